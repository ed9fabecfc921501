package io.backstop.http;

import java.util.Map;

/** {@link LiveDaemon} for tests outside this package: the daemon and its HTTP server in this JVM. */
public final class LiveDaemonAccess implements AutoCloseable {
    private final LiveDaemon daemon;

    public LiveDaemonAccess(Map<String, String> env) {
        this.daemon = new LiveDaemon(env);
    }

    public static Map<String, String> env(io.backstop.testing.PgCluster pg, String db, java.nio.file.Path backups) {
        return LiveDaemon.env(pg, db, backups);
    }

    public String get(String path) {
        return daemon.get(path).body();
    }

    public String health() {
        return get("/health");
    }

    @Override
    public void close() {
        daemon.close();
    }
}
