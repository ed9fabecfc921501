package io.backstop.pitr;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.http.LiveDaemon;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The PITR drill against a real server under pgbench: `verify` replays the base backup and the archived
 * WAL to a dump's snapshot taken while pgbench wrote, and every count matches that dump's manifest; with
 * a segment of the replay's range damaged on disk, the drill fails and names it.
 */
class PitrDrillIT {
    private static final Duration WAIT = Duration.ofSeconds(180);

    @TempDir
    Path dir;

    private PgCluster pg;

    @AfterEach
    void stopServer() {
        if (pg != null) {
            pg.close();
        }
    }

    private static double metric(String body, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{target=\"app\"} (\\S+)$").matcher(body);
        return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    @Test
    void theArchiveReproducesADumpTakenUnderLoadAndADamagedSegmentIsNamed() throws Exception {
        pg = PgCluster.startReplicating(Map.of());
        String db = pg.createDatabase("pitrdrill");
        Pgbench.initialise(pg, db, 1);
        Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_RESTORE_DRILL_EVERY", "15s");
        env.put("BACKSTOP_PITR", "true");
        Pgbench load = Pgbench.start(pg, db, 0, dir.resolve("pgbench.log"));
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("a recoverable window", WAIT,
                    () -> metric(d.get("/metrics").body(), "backstop_pitr_window_start_timestamp_seconds") > 0);
            Fixtures.await("three segments archived after the base backup", WAIT, () -> {
                try {
                    return new WalArchive(dir.resolve("backups").resolve("app")).entries().stream()
                            .filter(WalArchive.Entry::isSegment).count() >= 3;
                } catch (java.io.IOException e) {
                    return false;
                }
            });
            Cli.Result backup = Cli.run(env, "backup", "--label", "under-load");
            assertThat(backup.status()).as(backup.all()).isZero();
            Fixtures.await("pgbench still writing", WAIT, load::alive);

            Cli.Result verify = Cli.run(env, "verify", "under-load");
            assertThat(verify.status()).as(verify.all()).isZero();
            assertThat(verify.out()).contains("PITR replay to its snapshot passed", "4 tables", "all as in",
                    "after the last commit the dump's snapshot saw");
            // The daemon's scheduled drill does the same for the newest backup, and says so in its metrics.
            Fixtures.await("a scheduled PITR drill passed", WAIT,
                    () -> metric(d.get("/metrics").body(), "backstop_pitr_drill_last_result") == 1.0);
            assertThat(metric(d.get("/metrics").body(), "backstop_pitr_drill_last_duration_seconds")).isPositive();

            // A segment inside the replay's range is damaged: the drill fails and says which.
            WalArchive archive = new WalArchive(dir.resolve("backups").resolve("app"));
            // The segment holding the dump's own WAL position lies inside every replay to it, whichever base
            // backup the drill starts from (older segments may still be kept from before that base backup).
            Path dump = io.backstop.testing.Fixtures.files(dir.resolve("backups").resolve("app")).stream()
                    .filter(f -> f.getFileName().toString().contains("under-load")
                            && f.getFileName().toString().endsWith(".dump.zst")).findFirst().orElseThrow();
            String walLsn = new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(io.backstop.catalog.BackupLayout.manifestOf(dump).toFile())
                    .path("snapshot_facts").path("wal_lsn").asText();
            assertThat(walLsn).as("the dump's manifest records its WAL position").isNotEmpty();
            long segmentSize = archive.segmentSize();
            long segno = Wal.segnoOf(Wal.parseLsn(walLsn), segmentSize);
            // pgbench keeps writing, so that segment is soon complete and recorded (until then the drill reads
            // it from pg_receivewal's .partial file, which is not the archive's to check).
            Fixtures.await("the segment of " + walLsn + " recorded", WAIT, () -> {
                try {
                    return new WalArchive(archive.dir().getParent()).entries().stream().anyMatch(e -> e.isSegment()
                            && Wal.segno(e.name(), segmentSize) == segno);
                } catch (java.io.IOException e) {
                    return false;
                }
            });
            String victim = new WalArchive(archive.dir().getParent()).entries().stream().filter(WalArchive.Entry::isSegment)
                    .filter(e -> Wal.segno(e.name(), segmentSize) == segno).findFirst().orElseThrow().name();
            try (RandomAccessFile f = new RandomAccessFile(archive.dir().resolve(victim).toFile(), "rw")) {
                f.seek(f.length() / 2);
                f.write(new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
            }
            Cli.Result damaged = Cli.run(env, "verify", "under-load");
            assertThat(damaged.status()).as(damaged.all()).isEqualTo(4);
            assertThat(damaged.out()).contains("PITR replay to its snapshot FAILED", victim);
        } finally {
            load.close();
        }
    }
}
