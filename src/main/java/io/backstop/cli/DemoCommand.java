package io.backstop.cli;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.app.Invocation;
import io.backstop.catalog.BackupLayout;
import io.backstop.http.HealthState;
import io.backstop.http.HttpApi;
import io.backstop.pg.LocalCluster;
import io.backstop.schedule.Daemon;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import sun.misc.Signal;

/**
 * {@code backstop demo}: Backstop against a throwaway local PostgreSQL with sample data, on a
 * one-minute schedule with a short check interval, so a newcomer can watch backups appear,
 * simulate an incident and see the alarm. Ctrl-C stops it and removes the cluster.
 */
@Command(name = "demo", header = "Try Backstop against a throwaway local PostgreSQL.",
        description = {"Run the daemon against a throwaway local PostgreSQL with sample data, backing",
        "up every minute and checking row counts every 10 s. Needs the PostgreSQL server binaries (no Docker).",
        "Ctrl-C stops it and removes the cluster; the backups stay in --backups."})
public final class DemoCommand implements Callable<Integer> {
    private static final String[] SAMPLE = {
        "CREATE TABLE users(id bigint PRIMARY KEY, email text NOT NULL, created_at timestamptz DEFAULT now())",
        "INSERT INTO users(id, email) SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 1000) g",
        "CREATE TABLE orders(id bigint PRIMARY KEY, user_id bigint, total numeric(10,2))",
        "INSERT INTO orders SELECT g, g % 1000 + 1, (g % 500) / 10.0 FROM generate_series(1, 5000) g",
        "CREATE SCHEMA audit",
        "CREATE TABLE audit.events(id bigserial PRIMARY KEY, what text)",
        "INSERT INTO audit.events(what) SELECT 'signup ' || g FROM generate_series(1, 2000) g",
    };

    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Option(names = "--port", defaultValue = "8080", paramLabel = "PORT", description = "HTTP port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--backups", defaultValue = "backups/demo", paramLabel = "DIR",
            description = "Where the demo's backups go, one directory per run (default: ${DEFAULT-VALUE}).")
    Path backups;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        String password = "demo-" + UUID.randomUUID().toString().substring(0, 8);
        String token = "demo-token-" + UUID.randomUUID().toString().substring(0, 8);
        requireFreePort(port); // before the database starts: nothing to undo, and the flag that fixes it named
        out.println("starting a throwaway PostgreSQL ...");
        LocalCluster cluster = LocalCluster.start(LocalCluster.serverBinaries(), password);
        Runtime.getRuntime().addShutdownHook(new Thread(cluster::close, "demo-cluster-cleanup"));
        seed(cluster);
        // Each run has a new cluster: its backups get a directory of their own, so the last run's
        // baseline (another cluster's identity) never raises a false alarm here.
        Path runDir = backups.toAbsolutePath().resolve("run-" + BackupLayout.stamp(parent.invocation().clock().instant()));
        Path passwordFile = writePrivate(runDir, ".demo-password", password);
        // psql reads libpq's PGPASSFILE (host:port:db:user:password lines), not Backstop's PGPASSWORD_FILE.
        Path pgpass = writePrivate(runDir, ".demo-pgpass", "*:*:*:*:" + password.replace("\\", "\\\\").replace(":", "\\:"));

        Map<String, String> env = new HashMap<>(parent.invocation().env());
        env.put("PGHOST", cluster.host());
        env.put("PGPORT", Integer.toString(cluster.port()));
        env.put("PGUSER", LocalCluster.SUPERUSER);
        env.put("PGPASSWORD", password);
        env.put("PGDATABASE", "demo");
        env.put("BACKSTOP_TARGET", "demo");
        env.put("BACKSTOP_BACKUP_DIR", runDir.toString());
        env.put("BACKSTOP_SCHEDULE", "0 * * * * ?");
        env.put("BACKSTOP_CHECK_INTERVAL", "10s");
        env.put("BACKSTOP_STALE_AFTER", "3m");
        env.put("BACKSTOP_STARTUP_GRACE", "2m");
        env.put("BACKSTOP_RESTORE_DRILL_EVERY", "5m");
        env.put("BACKSTOP_HTTP_PORT", Integer.toString(port));
        env.put("BACKSTOP_HTTP_BIND", "127.0.0.1");
        env.put("BACKSTOP_HTTP_TOKEN", token);
        env.put("BACKSTOP_PG_BIN_DIR", cluster.bin().toString());
        env.put("BACKSTOP_CONFIG", "/dev/null");
        Components main = Components.load(new Invocation(env, parent.invocation().clock(), parent.invocation().stdin()),
                Optional.empty(), Optional.empty(), VersionProvider.version());

        HealthState state = new HealthState();
        main.seed(state);
        Daemon daemon = main.daemon(state);
        HttpApi http = main.http(state, daemon);
        CountDownLatch stopped = new CountDownLatch(1);
        Runnable stop = () -> {
            daemon.stop(DaemonCommand.STOP_BOUND);
            http.close();
            cluster.close();
            stopped.countDown();
        };
        Signal.handle(new Signal("TERM"), sig -> new Thread(stop, "demo-stop").start());
        Signal.handle(new Signal("INT"), sig -> new Thread(stop, "demo-stop").start());
        int bound = http.start();
        daemon.start();
        String psql = cluster.bin().resolve("psql").toString();
        out.printf("""

                Backstop demo is running (Ctrl-C stops it and removes the throwaway database).
                  database   %s  (users 1,000 rows, orders 5,000, audit.events 2,000)
                  target     demo
                  backups    %s  (a new directory for this run; the first backup is being taken now,
                             then one every minute)
                  status     http://127.0.0.1:%d/  (the status page, for people)
                  health     http://127.0.0.1:%d/health
                  metrics    http://127.0.0.1:%d/metrics
                  backup now curl -X POST -H 'Authorization: Bearer %s' http://127.0.0.1:%d/backup

                Point every other command at the demo (in another terminal, from this directory):
                  export BACKSTOP_BACKUP_DIR=%s BACKSTOP_TARGET=demo BACKSTOP_CONFIG=/dev/null
                  export PGHOST=127.0.0.1 PGPORT=%d PGUSER=%s PGDATABASE=demo PGPASSWORD_FILE=%s PGPASSFILE=%s
                  ./backstop list; ./backstop check; ./backstop verify

                Simulate an incident (with those exports) and watch /health turn 503 with DATA_DROP within 10 seconds:
                  %s -c "DELETE FROM users"
                Then see docs/recovery.md to put the rows back (./backstop restore pinned ...).

                """, "127.0.0.1:" + cluster.port() + "/demo", runDir, bound, bound, bound, token, bound,
                runDir, cluster.port(), LocalCluster.SUPERUSER, passwordFile, pgpass, psql);
        out.flush();
        stopped.await();
        return ExitCode.OK.status();
    }

    private static void requireFreePort(int port) {
        try (java.net.ServerSocket s = new java.net.ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
        } catch (java.io.IOException e) {
            throw new BackstopException(ExitCode.USAGE, "demo: port " + port + " on 127.0.0.1 is in use (" + e.getMessage()
                    + "); nothing was started. Give the demo another one: backstop demo --port " + (port + 1));
        }
    }

    /** The throwaway cluster's password, for the printed exports: a 0600 file, never an argument. */
    private static Path writePrivate(Path runDir, String name, String content) {
        try {
            java.nio.file.Files.createDirectories(runDir);
            Path file = runDir.resolve(name);
            java.nio.file.Files.writeString(file, content + "\n", java.nio.charset.StandardCharsets.UTF_8);
            java.nio.file.Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            return file;
        } catch (java.io.IOException e) {
            throw new BackstopException(ExitCode.STORAGE, "cannot write to " + runDir + ": " + e.getMessage(), e);
        }
    }

    private static void seed(LocalCluster cluster) {
        String admin = "jdbc:postgresql://127.0.0.1:" + cluster.port() + "/";
        try (Connection c = DriverManager.getConnection(admin + "postgres", LocalCluster.SUPERUSER, cluster.password());
                Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE demo");
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "cannot create the demo database: " + e.getMessage(), e);
        }
        try (Connection c = DriverManager.getConnection(admin + "demo", LocalCluster.SUPERUSER, cluster.password());
                Statement st = c.createStatement()) {
            for (String sql : SAMPLE) {
                st.execute(sql);
            }
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "cannot load the sample data: " + e.getMessage(), e);
        }
    }
}
