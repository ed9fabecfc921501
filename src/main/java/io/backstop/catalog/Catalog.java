package io.backstop.catalog;

import io.backstop.BackstopException;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Manifests;
import io.backstop.catalog.Tier;
import io.backstop.files.Durable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The backups a target has on disk. Only files with Backstop's name pattern are listed; a
 * listed file is Backstop's (and may ever be deleted by retention) only when its manifest
 * reads and names it.
 */
public final class Catalog {
    private final BackupLayout layout;
    private final Manifests manifests;

    public Catalog(BackupLayout layout, Manifests manifests) {
        this.layout = layout;
        this.manifests = manifests;
    }

    public Manifests manifests() {
        return manifests;
    }

    /**
     * One file with a Backstop name; {@code manifest} empty (and {@code problem} set) when it
     * cannot be trusted; {@code damaged} (and {@code problem} set) when the file no longer is
     * what its manifest describes. Only an undamaged, verified entry counts as verified.
     */
    public record Entry(Path file, Tier tier, Optional<Manifest> manifest, String problem, boolean damaged) {
        public boolean verified() {
            return !damaged && manifest.map(Manifest::verified).orElse(false);
        }

        public boolean pinned() {
            return manifest.map(Manifest::pinned).orElse(false);
        }

        /** When the dump was started; for entries without a manifest, the file's time. */
        public Instant started() {
            return manifest.map(Manifest::startedAt).orElseGet(() -> {
                try {
                    return Files.getLastModifiedTime(file).toInstant();
                } catch (IOException e) {
                    return Instant.EPOCH;
                }
            });
        }
    }

    /** Every Backstop-named dump of {@code target}, oldest first. */
    public List<Entry> list(String target) {
        List<Entry> entries = new ArrayList<>();
        for (Tier tier : Tier.values()) {
            Path dir = layout.tierDir(target, tier);
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    String name = f.getFileName().toString();
                    if (!BackupLayout.isDumpName(name) || BackupLayout.parse(target, name).isEmpty()
                            || !Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                        continue;
                    }
                    try {
                        Manifest m = manifests.read(f);
                        Optional<String> damage = m.damaged() ? Optional.of(String.valueOf(m.verification().problem()))
                                : manifests.integrity().damage(f, m);
                        entries.add(new Entry(f, tier, Optional.of(m), damage.map(d -> "DAMAGED: " + d).orElse(null),
                                damage.isPresent()));
                    } catch (BackstopException e) {
                        entries.add(new Entry(f, tier, Optional.empty(), e.getMessage(), false));
                    }
                }
            } catch (IOException e) {
                throw Durable.storageError("cannot list " + dir, e);
            }
        }
        entries.sort(Comparator.comparing(Entry::started).thenComparing(e -> e.file().toString()));
        return entries;
    }

    /**
     * The scheduled check: re-reads every verified backup's sha256 (bit rot changes neither size
     * nor time), records each damaged one in its manifest, and returns how many are damaged.
     */
    public long scan(String target) {
        for (Entry e : list(target)) {
            if (e.verified()) {
                manifests.integrity().thorough(e.file(), e.manifest().orElseThrow(), true)
                        .ifPresent(why -> manifests.markDamaged(e.file(), e.manifest().orElseThrow(), why));
            }
        }
        return damaged(target);
    }

    /** Entries whose file no longer matches its verified manifest. */
    public long damaged(String target) {
        return list(target).stream().filter(Entry::damaged).count();
    }

    /** The newest verified backup of the target's own data (any tier but safety). */
    public Optional<Entry> newestVerified(String target) {
        List<Entry> all = list(target);
        for (int i = all.size() - 1; i >= 0; i--) {
            if (all.get(i).verified() && all.get(i).tier().regular()) {
                return Optional.of(all.get(i));
            }
        }
        return Optional.empty();
    }
}
