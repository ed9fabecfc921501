package io.backstop.testing;

import io.backstop.Main;
import io.backstop.app.Components;
import io.backstop.app.Invocation;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Runs the real command line: in-process through {@link Main#run}, or as a child JVM. */
public final class Cli {
    private Cli() {
    }

    public record Result(int status, String out, String err) {
        public String all() {
            return out + err;
        }
    }

    public static Result run(Map<String, String> env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true), env);
        return new Result(status, out.toString(), err.toString());
    }

    /** The parts a run with {@code env} builds, wired as a command gets them. */
    public static Components components(Map<String, String> env) {
        return Components.load(new Invocation(env, Clock.systemUTC(), System.in), Optional.empty(), Optional.empty(),
                "test");
    }

    /** As {@link #components(Map)}, with the configuration read from {@code config}. */
    public static Components components(Map<String, String> env, Path config) {
        return Components.load(new Invocation(env, Clock.systemUTC(), System.in), Optional.of(config),
                Optional.empty(), "test");
    }

    /** Starts {@code backstop args...} in a child JVM with exactly {@code env} added to a clean environment. */
    public static Process spawn(Map<String, String> env, Path stdoutAndErr, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        if (java.nio.file.Files.isExecutable(Path.of("/usr/bin/env"))) {
            // A build started in the background (nohup, a CI runner) ignores SIGINT and SIGTERM, and a child
            // inherits that: give the command line under test the default handling a terminal would.
            command.addAll(List.of("/usr/bin/env", "--default-signal=INT,TERM,HUP"));
        }
        command.addAll(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xshare:auto", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), "io.backstop.Main"));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        Map<String, String> childEnv = pb.environment();
        childEnv.keySet().removeIf(k -> k.startsWith("PG") || k.startsWith("BACKSTOP_"));
        childEnv.putAll(env);
        pb.redirectErrorStream(true);
        pb.redirectOutput(stdoutAndErr.toFile());
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        return pb.start();
    }

    private static Path emptyConfig;

    static synchronized Path emptyConfig() {
        if (emptyConfig == null) {
            try {
                emptyConfig = java.nio.file.Files.createTempFile("backstop-empty-", ".conf");
                emptyConfig.toFile().deleteOnExit();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
        return emptyConfig;
    }

    public static Map<String, String> env(PgCluster pg, String database, Path backupDir) {
        Map<String, String> env = new HashMap<>();
        env.put("PGHOST", pg.host());
        env.put("PGPORT", Integer.toString(pg.port()));
        env.put("PGDATABASE", database);
        env.put("PGUSER", PgCluster.SUPERUSER);
        env.put("PGPASSWORD", pg.password());
        env.put("BACKSTOP_BACKUP_DIR", backupDir.toString());
        env.put("BACKSTOP_CONFIG", emptyConfig().toString()); // never the repository's config/backstop.conf
        env.put("BACKSTOP_PG_BIN_DIR", pg.bin().toString());
        env.put("PATH", System.getenv("PATH"));
        return env;
    }
}
