package io.backstop.restore;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.ExitCode;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Restore drills leave the production server alone: its databases, its WAL. */
class DrillOffProductionIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    private long lsn() throws Exception {
        try (Connection c = pg.connect("postgres"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private List<String> databases() throws Exception {
        try (Connection c = pg.connect("postgres"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT datname FROM pg_database ORDER BY 1")) {
            List<String> names = new java.util.ArrayList<>();
            while (rs.next()) {
                names.add(rs.getString(1));
            }
            return names;
        }
    }

    private Process pgbench(String db, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of(pg.bin().resolve("pgbench").toString(), "-h", pg.host(),
                "-p", Integer.toString(pg.port()), "-U", PgCluster.SUPERUSER));
        command.addAll(List.of(args));
        command.add(db);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("pgbench-" + System.nanoTime() + ".log").toFile());
        pb.environment().put("PGPASSWORD", pg.password());
        return pb.start();
    }

    @Test
    void aDrillUnderLoadCreatesNoDatabaseAndWritesNoWalOnTheTargetAndReachesHealthAndMetrics() throws Exception {
        String db = pg.createDatabase("bench");
        assertThat(pgbench(db, "-i", "-s", "4", "-q").waitFor()).isZero(); // ~60 MB: what an on-target drill would write
        Map<String, String> env = io.backstop.http.LiveDaemonAccess.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_RESTORE_DRILL_EVERY", "1h");
        assertThat(Cli.run(env, "backup").status()).isZero();
        List<String> before = databases();
        Process load = pgbench(db, "-c", "2", "-R", "40", "-T", "600");
        try {
            // The load alone, to know what it writes.
            long l0 = lsn();
            long t0 = System.nanoTime();
            Fixtures.await("some load", Duration.ofSeconds(30), () -> System.nanoTime() - t0 > 4_000_000_000L);
            double loadRate = (lsn() - l0) / ((System.nanoTime() - t0) / 1e9);

            List<String> seen = new CopyOnWriteArrayList<>();
            AtomicBoolean drilling = new AtomicBoolean(true);
            Thread watcher = new Thread(() -> {
                while (drilling.get()) {
                    try {
                        databases().stream().filter(n -> !before.contains(n)).forEach(seen::add);
                    } catch (Exception ignored) {
                        // keep watching
                    }
                }
            }, "watch-databases");
            watcher.start();
            long w0 = lsn();
            long d0 = System.nanoTime();
            Cli.Result verify;
            try {
                verify = Cli.run(env, "verify");
            } finally {
                drilling.set(false);
                watcher.join();
            }
            double seconds = (System.nanoTime() - d0) / 1e9;
            long drillWal = lsn() - w0;
            assertThat(verify.status()).as(verify.all()).isZero();
            assertThat(verify.out()).contains("passed", "throwaway local cluster");
            assertThat(seen).as("no scratch database ever appeared on the target").isEmpty();
            assertThat(databases()).isEqualTo(before);
            long restored = Long.parseLong(verify.out().replaceAll("(?s).*?([0-9.]+) MB restored.*", "$1").split("\\.")[0])
                    * 1024 * 1024;
            System.out.printf("drill under load: %.1f s, WAL during it %d kB (load alone %.0f kB/s), %d MB restored%n",
                    seconds, drillWal / 1024, loadRate / 1024, restored / 1024 / 1024);
            assertThat((double) drillWal).as("WAL while drilling: no more than the load accounts for")
                    .isLessThan(loadRate * seconds * 2 + 8 * 1024 * 1024);
            assertThat(restored).as("an on-target drill would have written this much WAL").isGreaterThan(40L * 1024 * 1024);
        } finally {
            load.destroy();
            load.waitFor();
        }

        // In the daemon: the drill's result and numbers reach /health and /metrics.
        env.put("BACKSTOP_RESTORE_DRILL_EVERY", "3s");
        try (var d = new io.backstop.http.LiveDaemonAccess(env)) {
            Fixtures.await("a passing drill in the daemon, with its size", Duration.ofSeconds(90),
                    () -> d.get("/metrics").contains("backstop_restore_drill_last_result{target=\"app\"} 1.0")
                            && !d.get("/metrics").contains("backstop_restore_drill_restored_size_bytes{target=\"app\"} 0.0"));
            String metrics = d.get("/metrics");
            assertThat(metrics).containsPattern("backstop_restore_drill_last_duration_seconds\\{target=\"app\"\\} [0-9.]*[1-9]")
                    .containsPattern("backstop_restore_drill_restored_size_bytes\\{target=\"app\"\\} [1-9]")
                    .contains("backstop_restore_drill_rto_target_seconds 3600.0");
            assertThat(d.health()).contains("\"status\":\"ok\"");
        }
    }

    @Test
    void aDrillServerOrAnExplicitOnTargetDrillIsUsedWhenConfigured() throws Exception {
        String db = pg.createDatabase("where");
        pg.execute(db, "CREATE TABLE t(id int)", "INSERT INTO t SELECT generate_series(1, 300)");
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        assertThat(Cli.run(env, "backup").status()).isZero();
        try (PgCluster drillServer = PgCluster.start()) {
            Map<String, String> withServer = new java.util.HashMap<>(env);
            withServer.put("BACKSTOP_DRILL_PGHOST", drillServer.host());
            withServer.put("BACKSTOP_DRILL_PGPORT", Integer.toString(drillServer.port()));
            withServer.put("BACKSTOP_DRILL_PGPASSWORD", drillServer.password());
            Cli.Result r = Cli.run(withServer, "verify");
            assertThat(r.status()).as(r.all()).isZero();
            assertThat(r.out()).contains("the drill server " + drillServer.host() + ":" + drillServer.port());
            assertThat(drillServer.count("postgres", "pg_database WHERE datname LIKE 'backstop_drill_%'")).isZero();
        }
        Map<String, String> onTarget = new java.util.HashMap<>(env);
        onTarget.put("BACKSTOP_RESTORE_DRILL_ON_TARGET", "true");
        Path log = dir.resolve("on-target.log");
        Process p = Cli.spawn(onTarget, log, "verify");
        assertThat(p.waitFor()).as(Files.readString(log)).isZero();
        assertThat(Files.readString(log)).contains("WARN", "restore-drill.on-target = true", "the target's own server");
    }

    @Test
    void aDrillThatCannotFitIsNotRunSaysSoAndIsNeverPassed() throws Exception {
        assertThat(Fixtures.isRoot()).as("mounting a small tmpfs needs root (CI runs as root)").isTrue();
        String db = pg.createDatabase("nofit");
        pg.execute(db, "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 200000) g");
        Path small = Files.createDirectories(dir.resolve("small"));
        Fixtures.sh("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", small.toString());
        try {
            Map<String, String> env = io.backstop.http.LiveDaemonAccess.env(pg, db, dir.resolve("backups"));
            env.put("BACKSTOP_RESTORE_DRILL_SCRATCH_DIR", small.toString());
            assertThat(Cli.run(env, "backup").status()).isZero();
            Cli.Result r = Cli.run(env, "verify");
            assertThat(r.status()).as(r.all()).isEqualTo(ExitCode.TOOLS.status());
            assertThat(r.out()).contains("NOT RUN", "needs about", "free in " + small, "restore-drill.scratch-dir");
            try (var files = Files.list(small)) {
                assertThat(files.toList()).as("nothing was started there").isEmpty();
            }
            env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
            env.put("BACKSTOP_RESTORE_DRILL_EVERY", "2s");
            try (var d = new io.backstop.http.LiveDaemonAccess(env)) {
                Fixtures.await("DRILL_NOT_RUN on /health", Duration.ofSeconds(30), () -> d.health().contains("DRILL_NOT_RUN"));
                assertThat(d.get("/metrics")).contains("backstop_restore_drill_last_result{target=\"app\"} -2.0");
            }
        } finally {
            Fixtures.sh("umount", small.toString());
        }
    }
}
