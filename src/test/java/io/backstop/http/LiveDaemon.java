package io.backstop.http;

import io.backstop.app.Components;
import io.backstop.schedule.Daemon;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

/** The daemon and its HTTP server in this JVM, wired as DaemonCommand wires them. */
public final class LiveDaemon implements AutoCloseable {
    public final Components main;
    final Daemon daemon;
    final HttpApi http;
    final int port;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    public LiveDaemon(Map<String, String> env) {
        main = io.backstop.testing.Cli.components(env);
        HealthState state = new HealthState();
        main.seed(state);
        daemon = main.daemon(state);
        http = main.http(state, daemon);
        port = http.start();
        daemon.start();
    }

    /** The environment of a test daemon: the target is {@code db}, HTTP on a free port of 127.0.0.1. */
    public static Map<String, String> env(io.backstop.testing.PgCluster pg, String db, java.nio.file.Path backups) {
        Map<String, String> env = io.backstop.testing.Cli.env(pg, db, backups);
        env.put("BACKSTOP_HTTP_PORT", "0");
        env.put("BACKSTOP_HTTP_BIND", "127.0.0.1");
        return env;
    }

    public HttpResponse<String> get(String path) {
        return send(HttpRequest.newBuilder(uri(path)).GET().build());
    }

    HttpResponse<String> send(HttpRequest request) {
        try {
            return client.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    @Override
    public void close() {
        daemon.stop(Duration.ofSeconds(8));
        http.close();
    }
}
