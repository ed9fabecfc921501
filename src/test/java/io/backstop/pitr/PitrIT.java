package io.backstop.pitr;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.backstop.http.LiveDaemon;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * WAL streamed by the daemon from a real server under pgbench: the archive stays continuous (checked by
 * pg_waldump reading every record from the base backup's start on) across a killed pg_receivewal, a
 * server restart and a server crash; a deleted segment and a dropped slot are gaps (503 WAL_GAP) that a
 * new base backup closes; with the sidecar stopped, the server's max_slot_wal_keep_size bounds what
 * the slot holds back.
 */
class PitrIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    private PgCluster pg;

    @AfterEach
    void stopServer() {
        if (pg != null) {
            pg.close();
        }
    }

    private Map<String, String> env(String db) {
        Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_RESTORE_DRILL_EVERY", "0");
        env.put("BACKSTOP_PITR", "true");
        env.put("BACKSTOP_PITR_MAX_LAG", "1m");
        return env;
    }

    private Path targetDir() {
        return dir.resolve("backups").resolve("app");
    }

    private static JsonNode walHealth(LiveDaemon d) throws Exception {
        return JSON.readTree(d.get("/health").body()).path("targets").get(0);
    }

    private static double metric(String body, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{target=\"app\"} (\\S+)$").matcher(body);
        return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    private static void awaitWindow(LiveDaemon d) {
        Fixtures.await("a recoverable window", WAIT,
                () -> metric(d.get("/metrics").body(), "backstop_pitr_window_start_timestamp_seconds") > 0);
    }

    /** /health 503 with WAL_GAP: seen while the new base backup runs (it takes a second or more). */
    private static void awaitGap(LiveDaemon d) {
        Fixtures.await("/health 503 WAL_GAP", WAIT, () -> {
            var h = d.get("/health");
            return h.statusCode() == 503 && h.body().contains("WAL_GAP");
        });
    }

    private static void awaitStreaming(LiveDaemon d) {
        Fixtures.await("pg_receivewal streaming", WAIT,
                () -> metric(d.get("/metrics").body(), "backstop_wal_streaming") == 1.0);
    }

    /** Forces the current segment out and waits until the archive has recorded it; returns the switch LSN. */
    private long switchAndAwait(String db) throws Exception {
        return Archives.switchAndAwait(pg, db, targetDir(), WAIT);
    }

    /** pg_waldump reads every record of the archive from the oldest base backup's start to {@code end}. */
    private String walDump(long end) throws Exception {
        return Archives.walDump(pg, targetDir(), end);
    }

    @Test
    void theArchiveStaysContinuousAcrossAKilledReceiverAServerRestartAndACrash() throws Exception {
        pg = PgCluster.startReplicating(Map.of());
        String db = pg.createDatabase("pitr");
        Pgbench.initialise(pg, db, 1);
        Path log = dir.resolve("pgbench.log");
        try (LiveDaemon d = new LiveDaemon(env(db))) {
            Pgbench load = Pgbench.start(pg, db, 300, log);
            awaitWindow(d);
            awaitStreaming(d);
            assertThat(Files.list(targetDir().resolve("base")).map(p -> p.getFileName().toString()))
                    .anyMatch(n -> n.endsWith(".json"));

            // pg_receivewal killed: the supervisor starts it again, and it resumes where it was.
            List<Long> receivers = Fixtures.processesWith("pg_receivewal");
            assertThat(receivers).hasSize(1);
            Fixtures.sh("kill", "-9", Long.toString(receivers.get(0)));
            Fixtures.await("a new pg_receivewal", WAIT, () -> {
                List<Long> now = Fixtures.processesWith("pg_receivewal");
                return now.size() == 1 && !now.equals(receivers);
            });
            awaitStreaming(d);

            // The server restarted, then crashed: pgbench starts again after each, streaming resumes.
            load.close();
            pg.stopServer();
            pg.startServer();
            load = Pgbench.start(pg, db, 300, log);
            awaitStreaming(d);
            switchAndAwait(db);
            load.close();
            pg.crash();
            pg.startServer();
            load = Pgbench.start(pg, db, 300, log);
            awaitStreaming(d);
            switchAndAwait(db);
            load.close();

            long end = switchAndAwait(db);
            assertThat(walDump(end)).as("pg_waldump over the archive").isEmpty();
            JsonNode health = walHealth(d);
            assertThat(health.path("reasons").toString()).doesNotContain("WAL_GAP", "WAL_STALE");
            assertThat(health.path("pitr").path("window").path("gaps").size()).isZero();
            assertThat(d.get("/health").statusCode()).isEqualTo(200);
            String metrics = d.get("/metrics").body();
            assertThat(metric(metrics, "backstop_pitr_gaps")).isZero();
            assertThat(metric(metrics, "backstop_basebackup_last_success_timestamp_seconds")).isPositive();
            assertThat(metric(metrics, "backstop_wal_last_received_timestamp_seconds")).isPositive();
        }
        assertThat(Fixtures.processesWith("pg_receivewal")).as("no pg_receivewal outlives the daemon").isEmpty();
    }

    @Test
    void aSigkilledDaemonLeavesNoReceiverAndItsSuccessorResumesWithoutAGap() throws Exception {
        pg = PgCluster.startReplicating(Map.of());
        String db = pg.createDatabase("pitrkill");
        Pgbench.initialise(pg, db, 1);
        Map<String, String> env = env(db);
        Path log = dir.resolve("daemon.log");
        try (Pgbench load = Pgbench.start(pg, db, 300, dir.resolve("pgbench.log"))) {
            assertThat(load.alive()).isTrue();
            Process daemon = io.backstop.testing.Cli.spawn(env, log, "daemon");
            try {
                Fixtures.await("a base backup and streaming", WAIT, () -> bases().size() == 1
                        && Fixtures.processesWith("pg_receivewal").size() == 1);
                switchAndAwait(db);
            } finally {
                daemon.destroyForcibly(); // SIGKILL: no shutdown hook, no chance to stop its children
                daemon.waitFor();
            }
            Fixtures.await("pg_receivewal gone with its daemon", Duration.ofSeconds(30),
                    () -> Fixtures.processesWith("pg_receivewal").isEmpty());
            pg.execute(db, "INSERT INTO pgbench_history SELECT 1, 1, 1, 1, now() FROM generate_series(1, 50000)");
            try (LiveDaemon d = new LiveDaemon(env)) {
                awaitStreaming(d);
                long end = switchAndAwait(db);
                assertThat(walDump(end)).as("pg_waldump over the archive").isEmpty();
                assertThat(bases()).as("the window goes on: no new base backup was needed").hasSize(1);
                assertThat(walHealth(d).path("pitr").path("window").path("gaps").size()).isZero();
            }
        }
    }

    @Test
    void aRecreatedClusterGetsAnArchiveOfItsOwnAndTheOldOneIsKeptWhole() throws Exception {
        pg = PgCluster.startReplicating(Map.of());
        String db = "app";
        pg.execute("postgres", "CREATE DATABASE app");
        String before;
        try (LiveDaemon d = new LiveDaemon(env(db))) {
            awaitWindow(d);
            switchAndAwait(db);
            before = Files.readString(targetDir().resolve("wal").resolve("ledger.tsv"));
            assertThat(before).isNotBlank();
        }
        String oldId = Files.readString(targetDir().resolve("wal").resolve("system-identifier")).strip();
        pg.close(); // the volume is wiped: a new cluster answers for the same target
        pg = PgCluster.startReplicating(Map.of());
        pg.execute("postgres", "CREATE DATABASE app");
        try (LiveDaemon d = new LiveDaemon(env(db))) {
            Fixtures.await("a base backup of the new cluster", WAIT, () -> bases().size() == 1
                    && Files.isDirectory(targetDir().resolve("base-" + oldId)));
            Fixtures.await("healthy again", WAIT, () -> d.get("/health").statusCode() == 200);
            switchAndAwait(db);
        }
        Path aside = targetDir().resolve("wal-" + oldId);
        assertThat(Files.readString(aside.resolve("ledger.tsv"))).as("the old cluster's WAL, untouched").isEqualTo(before);
        for (String line : before.split("\n")) {
            String name = line.split("\t")[0];
            assertThat(io.backstop.files.Hashing.sha256(aside.resolve(name))).isEqualTo(line.split("\t")[2]);
        }
        assertThat(Files.readString(targetDir().resolve("wal").resolve("system-identifier")).strip()).isNotEqualTo(oldId);
    }

    @Test
    void aDeletedSegmentIsAGapThatANewBaseBackupCloses() throws Exception {
        pg = PgCluster.startReplicating(Map.of());
        String db = pg.createDatabase("pitrgap");
        Pgbench.initialise(pg, db, 1);
        try (LiveDaemon d = new LiveDaemon(env(db))) {
            awaitWindow(d);
            switchAndAwait(db);
            pg.execute(db, "INSERT INTO pgbench_history SELECT 1, 1, 1, 1, now() FROM generate_series(1, 1000)");
            switchAndAwait(db);
            pg.execute(db, "INSERT INTO pgbench_history SELECT 1, 1, 1, 1, now() FROM generate_series(1, 1000)");
            switchAndAwait(db);
            List<BaseBackups.Base> before = bases();
            // A segment in the middle of the window goes missing.
            WalArchive archive = new WalArchive(targetDir());
            List<WalArchive.Entry> segments = archive.entries().stream().filter(WalArchive.Entry::isSegment).toList();
            String victim = segments.get(segments.size() - 2).name();
            Files.delete(targetDir().resolve("wal").resolve(victim));
            awaitGap(d);
            Fixtures.await("a new base backup after the gap", WAIT, () -> isNew(newestBase(), before));
            Fixtures.await("healthy again", WAIT, () -> d.get("/health").statusCode() == 200);
            JsonNode health = walHealth(d);
            assertThat(health.path("pitr").path("window").path("gaps").toString()).contains(victim, "deleted");
            assertThat(metric(d.get("/metrics").body(), "backstop_pitr_gaps")).isEqualTo(1.0);
        }
    }

    private List<BaseBackups.Base> bases() {
        return Archives.bases(targetDir());
    }

    private static boolean isNew(String base, List<BaseBackups.Base> before) {
        return !base.isEmpty() && before.stream().noneMatch(b -> b.name().equals(base));
    }

    /** Read once: rotation may remove the oldest base backup between two listings. */
    private String newestBase() {
        List<BaseBackups.Base> bases = bases();
        return bases.isEmpty() ? "" : bases.get(bases.size() - 1).name();
    }

    @Test
    void aDroppedSlotIsAGapAndTheCapBoundsWhatTheServerKeepsWhileTheSidecarIsStopped() throws Exception {
        pg = PgCluster.startReplicating(Map.of("max_slot_wal_keep_size", "64MB", "max_wal_size", "64MB",
                "min_wal_size", "32MB"));
        String db = pg.createDatabase("pitrslot");
        Pgbench.initialise(pg, db, 1);
        try (LiveDaemon d = new LiveDaemon(env(db))) {
            awaitWindow(d);
            switchAndAwait(db);
        }
        // The sidecar is stopped; the server writes four times the cap.
        for (int i = 0; i < 16; i++) {
            pg.execute(db, "INSERT INTO pgbench_history SELECT 1, 1, 1, 1, now() FROM generate_series(1, 20000)",
                    "SELECT pg_switch_wal()");
        }
        pg.execute(db, "CHECKPOINT");
        try (Connection c = pg.connect(db); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT (SELECT sum(size) FROM pg_ls_waldir()),"
                        + " (SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'backstop_app')")) {
            rs.next();
            assertThat(rs.getLong(1)).as("pg_wal stays within the cap plus max_wal_size")
                    .isLessThanOrEqualTo((64L + 64L + 16L) << 20);
            assertThat(rs.getString(2)).isEqualTo("lost");
        }
        List<BaseBackups.Base> before = bases();
        try (LiveDaemon d = new LiveDaemon(env(db))) {
            awaitGap(d);
            Fixtures.await("a new base backup after the lost slot", WAIT, () -> isNew(newestBase(), before));
            Fixtures.await("healthy again", WAIT, () -> d.get("/health").statusCode() == 200);
            assertThat(walHealth(d).path("pitr").path("window").path("gaps").toString()).contains("lost");

            // Dropped by someone on the server while streaming: a gap too.
            String newest = newestBase();
            Fixtures.await("the slot dropped", WAIT, () -> {
                try {
                    pg.execute(db, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots"
                            + " WHERE slot_name = 'backstop_app' AND active_pid IS NOT NULL",
                            "SELECT pg_drop_replication_slot('backstop_app')");
                    return true;
                } catch (IllegalStateException stillActive) {
                    return false; // the walsender has not ended yet
                }
            });
            awaitGap(d);
            Fixtures.await("a new base backup after the dropped slot", WAIT,
                    () -> !newestBase().equals(newest));
            Fixtures.await("healthy again", WAIT, () -> d.get("/health").statusCode() == 200);
            assertThat(walHealth(d).path("pitr").path("window").path("gaps").toString()).contains("dropped");
        }
        try (Stream<Path> s = Files.list(targetDir().resolve("base"))) {
            assertThat(s.filter(p -> p.getFileName().toString().endsWith(".json")).count())
                    .as("base-backup.keep = 2").isEqualTo(2);
        }
    }
}
