package io.backstop.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.files.Hashing;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon on a schedule of a few seconds against real servers. */
class DaemonIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    private static List<Path> dumps(Path dir) {
        return Fixtures.finalDumps(dir);
    }

    @Test
    void backupsAppearOnScheduleRetentionTrimsAndAFailingTargetNeverStopsTheOther() throws Exception {
        String dbA = pg.createDatabase("daemon_a");
        pg.execute(dbA, "CREATE TABLE t(id int)", "INSERT INTO t SELECT generate_series(1, 100)");
        PgCluster other = PgCluster.start();
        try {
            other.execute("postgres", "CREATE TABLE u(id int)", "INSERT INTO u VALUES (1), (2)");
            Path backups = dir.resolve("backups");
            Path conf = dir.resolve("daemon.conf");
            Files.writeString(conf, """
                    backstop {
                      schedule = "0/2 * * * * ?"
                      retention { hourly = 3, daily = 1 }
                      targets = [
                        { name = a, host = "127.0.0.1", port = %d, database = "%s", password = "%s" },
                        { name = b, host = "127.0.0.1", port = %d, database = "postgres", password = "%s" }
                      ]
                    }
                    """.formatted(pg.port(), dbA, pg.password().replace("\\", "\\\\"), other.port(),
                    other.password().replace("\\", "\\\\")));
            Files.createDirectories(backups.resolve("a/hourly"));
            Path foreign = Files.writeString(backups.resolve("a/hourly/keep-me.txt"), "operator's notes");
            Map<String, String> env = Cli.env(pg, dbA, backups);
            env.put("BACKSTOP_CONFIG", conf.toString());
            Components main = io.backstop.testing.Cli.components(env, conf);
            Daemon daemon = main.daemon();
            daemon.start();
            try {
                Fixtures.await("both targets' first backups", Duration.ofSeconds(30),
                        () -> !dumps(backups.resolve("a/hourly")).isEmpty() && !dumps(backups.resolve("b/hourly")).isEmpty());
                List<Path> bBefore = dumps(backups.resolve("b/hourly"));
                other.stopServer();
                long bFailuresStart = System.nanoTime();
                Fixtures.await("five more backups of a", Duration.ofSeconds(40), () -> sequenceOf(main, "a") >= 6);
                assertThat(Duration.ofNanos(System.nanoTime() - bFailuresStart)).as("a kept its 2 s pace while b failed")
                        .isLessThan(Duration.ofSeconds(30));
                assertThat(dumps(backups.resolve("a/hourly"))).hasSizeBetween(3, 4); // trimmed after each success
                assertThat(dumps(backups.resolve("a/daily"))).hasSize(1);
                // What follows compares files the daemon keeps writing: read them once it stopped.
                daemon.stop(Duration.ofSeconds(8));
                Path latest = Fixtures.latest(backups.resolve("a"));
                assertThat(Files.readSymbolicLink(latest).toString()).startsWith("hourly/");
                assertThat(main.catalog().newestVerified("a").orElseThrow().file())
                        .isEqualTo(latest.getParent().resolve(Files.readSymbolicLink(latest)));
                assertThat(dumps(backups.resolve("b/hourly"))).as("b keeps its old backups while its database is down")
                        .containsExactlyInAnyOrderElementsOf(bBefore);
                assertThat(foreign).hasContent("operator's notes");
                assertThat(Fixtures.temporaries(backups)).isEmpty();
            } finally {
                daemon.stop(Duration.ofSeconds(8));
            }
        } finally {
            other.close();
        }
    }

    private static long sequenceOf(Components main, String target) {
        return main.catalog().newestVerified(target).flatMap(e -> e.manifest()).map(m -> m.sequence()).orElse(0L);
    }

    @Test
    void sigkillMidDumpThenRestartLosesNothingAndSigtermExitsZeroWithinTheBound() throws Exception {
        String db = Fixtures.bigDatabase(pg);
        Path backups = dir.resolve("backups");
        Map<String, String> env = Cli.env(pg, db, backups);
        env.put("BACKSTOP_SCHEDULE", "0 0 * * * ?");
        env.put("BACKSTOP_PG_DUMP_COMPRESS", "0");
        assertThat(Cli.run(env, "backup").status()).isZero();
        Path hourlyDir = backups.resolve("app/hourly");
        Path earlier = dumps(hourlyDir).get(0);
        String sha = Hashing.sha256(earlier);
        env.put("BACKSTOP_PG_DUMP_COMPRESS", "9");
        env.put("BACKSTOP_SCHEDULE", "0/10 * * * * ?");
        env.put("BACKSTOP_HTTP_PORT", "0"); // a shared machine may have anything on 8080
        env.put("BACKSTOP_HTTP_BIND", "127.0.0.1");
        // As if the daemon had been down for two days: its start-up backup is due at once.
        Path manifest = io.backstop.catalog.BackupLayout.manifestOf(earlier);
        var json = (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(manifest.toFile());
        json.put("started_at", java.time.Instant.now().minus(Duration.ofDays(2)).toString());
        Files.writeString(manifest, json.toString());
        Path log1 = dir.resolve("daemon1.log");
        Process first = Cli.spawn(env, log1, "daemon");
        Fixtures.await("the daemon's dump to be writing", Duration.ofSeconds(40), () -> Fixtures.temporaries(backups)
                .stream().anyMatch(p -> p.toFile().length() > 0));
        Cli.Result busy = Cli.run(env, "backup");
        assertThat(busy.status()).as(busy.all()).isEqualTo(ExitCode.BUSY.status());
        assertThat(busy.err()).contains("another backup of target app is running");
        first.destroyForcibly().waitFor(10, TimeUnit.SECONDS); // SIGKILL mid-dump
        Fixtures.await("no orphan pg_dump", Duration.ofSeconds(10), () -> Fixtures.processesWith("--file=" + backups).isEmpty());
        assertThat(dumps(hourlyDir)).containsExactly(earlier);

        Path log2 = dir.resolve("daemon2.log");
        Process second = Cli.spawn(env, log2, "daemon");
        try {
            Fixtures.await("the swept temporary and a new dump", Duration.ofSeconds(60), () -> dumps(hourlyDir).size() >= 2
                    || !second.isAlive());
            assertThat(dumps(hourlyDir)).as(Files.readString(log2)).hasSizeGreaterThanOrEqualTo(2).contains(earlier);
            assertThat(Files.readString(log2)).contains("(a temporary file of an interrupted run)");
            assertThat(Hashing.sha256(earlier)).isEqualTo(sha);

            // Now SIGTERM while a dump runs: exit 0 within the bound, temporary file removed, pg_dump gone.
            Fixtures.await("a dump in progress", Duration.ofSeconds(60), () -> Fixtures.temporaries(backups)
                    .stream().anyMatch(p -> p.toFile().length() > 0));
            long start = System.nanoTime();
            second.destroy(); // SIGTERM
            assertThat(second.waitFor(15, TimeUnit.SECONDS)).isTrue();
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            assertThat(second.exitValue()).as(Files.readString(log2)).isZero();
            assertThat(took).isLessThan(Duration.ofSeconds(10));
            assertThat(Fixtures.temporaries(backups)).isEmpty();
            assertThat(Fixtures.processesWith("--file=" + backups)).isEmpty();
            assertThat(Files.readString(log2)).contains("stopping", "stopped");
        } finally {
            second.destroyForcibly();
        }
    }
}
