package io.backstop.retention;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Manifests;
import io.backstop.catalog.Tier;
import io.backstop.config.Settings;
import io.backstop.config.SettingsLoader;
import io.backstop.files.Durable;
import io.backstop.files.Hashing;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Simulated hourly runs on real files: each "backup" is a tiny file with a real manifest,
 * written the way {@code Backup} writes them, then handed to the same {@link Prune} the
 * daemon calls. Checks the retention invariants after every step.
 */
final class Simulation {
    static final String TARGET = "app";

    private final Path root;
    private final Manifests manifests = new Manifests();
    private Settings settings;
    private Instant now;
    private long sequence;
    final BackupLayout layout;

    Simulation(Path root, Instant start, String timezone, int hourly, int daily) {
        this.root = root;
        this.layout = new BackupLayout(root);
        this.now = start;
        configure(timezone, hourly, daily);
    }

    void configure(String timezone, int hourly, int daily) {
        settings = new SettingsLoader(Map.of("BACKSTOP_BACKUP_DIR", root.toString(), "BACKSTOP_TIMEZONE", timezone,
                "BACKSTOP_RETENTION_HOURLY", Integer.toString(hourly), "BACKSTOP_RETENTION_DAILY", Integer.toString(daily)))
                .load(Optional.empty());
    }

    Instant now() {
        return now;
    }

    void advance(Duration d) {
        now = now.plus(d);
    }

    /** A verified hourly backup taken at the current simulated time, then rotation; invariants checked. */
    Path backup() {
        Path dir = layout.tierDir(TARGET, Tier.HOURLY);
        Durable.createDirectories(dir);
        Instant stamp = now.truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        Path file = layout.timestamped(TARGET, Tier.HOURLY, stamp, Optional.empty());
        while (Files.exists(file)) {
            stamp = stamp.plusSeconds(1);
            file = layout.timestamped(TARGET, Tier.HOURLY, stamp, Optional.empty());
        }
        sequence++;
        Instant modified;
        try {
            Files.writeString(file, "dump " + sequence);
            modified = Files.getLastModifiedTime(file).toInstant();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        Manifest m = Manifest.builder().sequence(sequence).target(TARGET).database("app").host("db").port(5432)
                .serverVersion("15.0").pgDumpVersion("15.0").systemIdentifier("1").databaseOid(1)
                .file(file.getFileName().toString()).tier(Tier.HOURLY).startedAt(now).finishedAt(now.plusSeconds(5))
                .durationSeconds(5).sizeBytes(("dump " + sequence).length()).sha256(io.backstop.files.Hashing.sha256(file))
                .compress("6").rowCounts(Map.of("public.users", sequence))
                .verification(new Manifest.Verification("test", "passed", now, 1)).countMethod(Manifest.COUNT_METHOD)
                .fileModifiedAt(modified).build();
        manifests.write(file, m);
        Map<Path, Long> before = verified();
        new Prune(settings, layout, manifests).afterBackup(TARGET, file, m);
        checkInvariants(before, verified());
        return file;
    }

    /** Every verified backup on disk and its sequence. */
    Map<Path, Long> verified() {
        Map<Path, Long> map = new HashMap<>();
        for (Catalog.Entry e : new Catalog(layout, manifests).list(TARGET)) {
            if (e.verified()) {
                map.put(e.file(), e.manifest().orElseThrow().sequence());
            }
        }
        return map;
    }

    List<Catalog.Entry> tier(Tier tier) {
        return new Catalog(layout, manifests).list(TARGET).stream().filter(e -> e.tier() == tier).toList();
    }

    Set<Long> sequences(Tier tier) {
        return tier(tier).stream().map(e -> e.manifest().orElseThrow().sequence()).collect(Collectors.toSet());
    }

    long lastSequence() {
        return sequence;
    }

    void pin(Path file) {
        Manifest m = manifests.read(file);
        manifests.write(file, m.withPin(true, "test pin"));
    }

    ZoneId zone() {
        return settings.timezone();
    }

    /**
     * No verified backup is deleted while fewer than the tier's count of newer verified
     * backups exist in its tier; a pinned one is never deleted; the newest always stays.
     */
    private void checkInvariants(Map<Path, Long> before, Map<Path, Long> after) {
        for (Map.Entry<Path, Long> gone : before.entrySet()) {
            if (after.containsKey(gone.getKey())) {
                continue;
            }
            Path dir = gone.getKey().getParent();
            Tier tier = Tier.parse(dir.getFileName().toString());
            long newer = after.entrySet().stream()
                    .filter(e -> e.getKey().getParent().equals(dir) && e.getValue() > gone.getValue()).count();
            assertThat(newer).as("newer verified %s backups left when %s was deleted", tier.dir(), gone.getKey())
                    .isGreaterThanOrEqualTo(RetentionPlan.keep(settings.retention(), tier));
            assertThat(manifestsPinnedBefore.contains(gone.getKey())).as("pinned %s deleted", gone.getKey()).isFalse();
        }
        assertThat(after.values()).as("the newest verified backup stays").contains(sequence);
    }

    private final Set<Path> manifestsPinnedBefore = new java.util.HashSet<>();

    void rememberPinned(Path file) {
        manifestsPinnedBefore.add(file);
    }
}
