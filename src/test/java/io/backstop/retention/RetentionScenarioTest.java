package io.backstop.retention;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Tier;
import io.backstop.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Retention scenarios over simulated weeks of hourly runs (real files, simulated clock). */
class RetentionScenarioTest {
    private static final Instant START = Instant.parse("2026-10-01T00:00:00Z");

    @TempDir
    Path root;

    @Test
    void thirtyDaysOfHourlyRunsLeave24HourlyAnd7DailyTheRightOnes() {
        Simulation sim = new Simulation(root, START, "UTC", 24, 7);
        for (int h = 0; h < 30 * 24; h++) {
            sim.backup();
            sim.advance(Duration.ofHours(1));
        }
        long last = sim.lastSequence();
        assertThat(sim.sequences(Tier.HOURLY)).containsExactlyInAnyOrderElementsOf(
                LongStream.rangeClosed(last - 23, last).boxed().toList());
        // daily: the first backup (00:00) of each of the last 7 days, named by its date
        List<String> dailies = sim.tier(Tier.DAILY).stream().map(e -> e.file().getFileName().toString()).sorted().toList();
        assertThat(dailies).containsExactly("app-20261024.dump", "app-20261025.dump", "app-20261026.dump",
                "app-20261027.dump", "app-20261028.dump", "app-20261029.dump", "app-20261030.dump");
        assertThat(sim.sequences(Tier.DAILY)).containsExactlyInAnyOrder(
                LongStream.range(23, 30).map(d -> d * 24 + 1).boxed().toArray(Long[]::new));
    }

    @Test
    void dailyIsAHardLinkOfTheHourlyNotACopy() throws IOException {
        Simulation sim = new Simulation(root, START, "UTC", 24, 7);
        Path hourly = sim.backup();
        Path daily = sim.tier(Tier.DAILY).get(0).file();
        assertThat(Files.isSameFile(hourly, daily)).isTrue();
        assertThat(Files.getAttribute(daily, "unix:nlink")).isEqualTo(2);
    }

    @Test
    void withFailuresAndSkippedHoursTheNewestVerifiedAreKept() {
        Simulation sim = new Simulation(root, START, "UTC", 24, 7);
        Random random = new Random(42);
        for (int h = 0; h < 30 * 24; h++) {
            boolean nightlyGap = sim.now().atZone(ZoneOffset.UTC).getHour() >= 1 && sim.now().atZone(ZoneOffset.UTC).getHour() < 5;
            boolean failed = random.nextInt(5) == 0;
            if (!nightlyGap && !failed) {
                sim.backup();
            }
            sim.advance(Duration.ofHours(1));
        }
        Set<Long> all = sim.verified().values().stream().collect(Collectors.toCollection(TreeSet::new));
        long last = sim.lastSequence();
        assertThat(sim.sequences(Tier.HOURLY)).containsExactlyInAnyOrderElementsOf(
                LongStream.rangeClosed(last - 23, last).boxed().toList());
        assertThat(sim.tier(Tier.DAILY)).hasSize(7);
        assertThat(all).contains(last);
    }

    @Test
    void aDaemonDownForThreeDaysLosesNothingItCannotReplace() {
        Simulation sim = new Simulation(root, START, "UTC", 24, 7);
        for (int h = 0; h < 10 * 24; h++) {
            sim.backup();
            sim.advance(Duration.ofHours(1));
        }
        Set<Long> hourlyBeforeOutage = sim.sequences(Tier.HOURLY);
        sim.advance(Duration.ofDays(3));
        sim.backup(); // the catch-up backup at start
        Set<Long> hourly = sim.sequences(Tier.HOURLY);
        assertThat(hourly).hasSize(24);
        // Only the oldest pre-outage hourly made room for the single new one.
        assertThat(hourlyBeforeOutage.stream().filter(hourly::contains).count()).isEqualTo(23);
        assertThat(sim.tier(Tier.DAILY)).hasSize(7);
        for (int h = 0; h < 5 * 24; h++) {
            sim.advance(Duration.ofHours(1));
            sim.backup();
        }
        assertThat(sim.tier(Tier.HOURLY)).hasSize(24);
        assertThat(sim.tier(Tier.DAILY)).hasSize(7);
    }

    @Test
    void aClockMovedBackwardsNeverCostsTheNewestBackups() {
        Simulation sim = new Simulation(root, START, "UTC", 24, 7);
        for (int h = 0; h < 5 * 24; h++) {
            sim.backup();
            sim.advance(Duration.ofHours(1));
        }
        sim.advance(Duration.ofHours(-30)); // NTP fixes a clock that ran a day ahead
        for (int h = 0; h < 12; h++) {
            sim.backup();
            sim.advance(Duration.ofHours(1));
        }
        long last = sim.lastSequence();
        assertThat(sim.sequences(Tier.HOURLY)).as("kept by creation order, not by timestamp")
                .containsExactlyInAnyOrderElementsOf(LongStream.rangeClosed(last - 23, last).boxed().toList());
    }

    @Test
    void aTimeZoneChangeKeepsSevenDailies() {
        Simulation sim = new Simulation(root, START, "UTC", 24, 7);
        for (int h = 0; h < 10 * 24; h++) {
            sim.backup();
            sim.advance(Duration.ofHours(1));
        }
        sim.configure("America/New_York", 24, 7);
        for (int h = 0; h < 10 * 24; h++) {
            sim.backup();
            sim.advance(Duration.ofHours(1));
        }
        assertThat(sim.tier(Tier.DAILY)).hasSize(7);
        assertThat(sim.tier(Tier.HOURLY)).hasSize(24);
        ZoneId ny = ZoneId.of("America/New_York");
        Set<LocalDate> days = sim.tier(Tier.DAILY).stream().map(e -> LocalDate.ofInstant(e.started(), ny))
                .collect(Collectors.toSet());
        assertThat(days).as("one daily per local day").hasSize(7);
    }

    @Test
    void aPinnedBackupSurvivesAMonthOfRotation() {
        Simulation sim = new Simulation(root, START, "UTC", 24, 7);
        Path pinned = sim.backup();
        sim.pin(pinned);
        sim.rememberPinned(pinned);
        Path pinnedDaily = sim.tier(Tier.DAILY).get(0).file();
        sim.pin(pinnedDaily);
        sim.rememberPinned(pinnedDaily);
        for (int h = 0; h < 30 * 24; h++) {
            sim.advance(Duration.ofHours(1));
            sim.backup();
        }
        assertThat(pinned).exists();
        assertThat(pinnedDaily).exists();
        assertThat(sim.tier(Tier.HOURLY)).hasSize(25);
        assertThat(sim.tier(Tier.DAILY)).hasSize(8);
    }

    @Test
    void zeroRetentionStillKeepsTheNewestVerifiedBackup() {
        Simulation sim = new Simulation(root, START, "UTC", 0, 0);
        for (int h = 0; h < 5; h++) {
            sim.backup();
            sim.advance(Duration.ofHours(1));
        }
        assertThat(sim.sequences(Tier.HOURLY)).containsExactly(5L);
    }

    @Test
    void filesOutsideThePatternAreNeverTouched() throws IOException {
        Simulation sim = new Simulation(root, START, "UTC", 2, 1);
        Path hourlyDir = root.resolve("app/hourly");
        Files.createDirectories(hourlyDir);
        Files.createDirectories(root.resolve("app/daily"));
        List<Path> foreign = List.of(
                Files.writeString(hourlyDir.resolve("notes.txt"), "mine"),
                Files.writeString(hourlyDir.resolve("app-20200101T000000Z.dump"), "no manifest"),
                Files.writeString(hourlyDir.resolve("other-20200101T000000Z.dump"), "other target"),
                Files.writeString(hourlyDir.resolve("app-20200101T000000Z.dump.bak"), "a copy"),
                Files.writeString(root.resolve("app/daily/app-2020.dump"), "odd name"),
                Files.writeString(root.resolve("app/README"), "hands off"));
        Path broken = Files.writeString(hourlyDir.resolve("app-20200102T000000Z.dump"), "broken manifest");
        Files.writeString(BackupLayout.manifestOf(broken), "{ not json");
        for (int h = 0; h < 48; h++) {
            sim.backup();
            sim.advance(Duration.ofHours(1));
        }
        for (Path f : foreign) {
            assertThat(f).exists();
        }
        assertThat(broken).exists();
        assertThat(BackupLayout.manifestOf(broken)).exists();
        assertThat(sim.tier(Tier.HOURLY).stream().filter(Catalog.Entry::verified)).hasSize(2);
    }

    @Test
    void pruneDryRunShowsWhatWouldGoAndDeletesNothing() throws IOException {
        Simulation sim = new Simulation(root, START, "UTC", 24, 7);
        for (int h = 0; h < 30; h++) {
            sim.backup();
            sim.advance(Duration.ofHours(1));
        }
        Map<String, String> env = Map.of("BACKSTOP_BACKUP_DIR", root.toString(), "BACKSTOP_RETENTION_HOURLY", "3",
                "BACKSTOP_CONFIG", Files.createTempFile(root, "empty", ".conf").toString());
        int before = sim.verified().size();
        Cli.Result dry = Cli.run(env, "prune", "--dry-run");
        assertThat(dry.status()).as(dry.all()).isZero();
        assertThat(dry.out()).contains("would delete app/hourly/app-20261001T060000Z.dump (hourly keeps 3 backups; 23 newer verified ones exist)",
                "prune app: 21 backups would be deleted (dry run)");
        assertThat(sim.verified()).hasSize(before);
        Cli.Result real = Cli.run(env, "prune");
        assertThat(real.out()).contains("prune app: 21 backups deleted");
        assertThat(sim.tier(Tier.HOURLY)).hasSize(3);
    }
}
