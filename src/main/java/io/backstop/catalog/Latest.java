package io.backstop.catalog;

import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Manifests;
import io.backstop.catalog.Tier;
import io.backstop.files.Durable;
import io.backstop.files.TargetLock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Optional;

/**
 * What {@code latest} means: the newest intact verified backup of the target's own data,
 * taken while no data-loss alarm was raised. A safety backup (a copy of a state that may be
 * the damage) and a backup taken during an alarm (perhaps after the loss) never are, so
 * "restore latest" on the worst day never brings the damage back. {@code latest.dump} is a
 * convenience link kept pointing at the same file.
 */
public final class Latest {
    private final BackupLayout layout;
    private final Manifests manifests;

    public Latest(BackupLayout layout, Manifests manifests) {
        this.layout = layout;
        this.manifests = manifests;
    }

    public static boolean eligible(Catalog.Entry e) {
        return e.verified() && e.tier().regular() && !e.manifest().orElseThrow().takenDuringAlarm();
    }

    public Optional<Catalog.Entry> find(String target) {
        return new Catalog(layout, manifests).list(target).stream().filter(Latest::eligible)
                .max(Comparator.comparingLong((Catalog.Entry e) -> e.manifest().orElseThrow().sequence())
                        .thenComparing(e -> e.tier() == Tier.HOURLY || e.tier() == Tier.MANUAL));
    }

    /** Points {@code latest.dump} at {@link #find}, atomically (a new link renamed over the old); removes it when none. */
    public Optional<Path> refresh(String target) {
        Optional<Catalog.Entry> newest = find(target);
        Path plain = layout.latestLink(target);
        java.util.List<Path> names = java.util.List.of(plain, plain.resolveSibling("latest" + BackupLayout.ZSTD_SUFFIX),
                plain.resolveSibling("latest" + BackupLayout.DUMP_SUFFIX + BackupLayout.AGE_SUFFIX),
                plain.resolveSibling("latest" + BackupLayout.ZSTD_SUFFIX + BackupLayout.AGE_SUFFIX));
        try {
            if (newest.isEmpty()) {
                for (Path n : names) {
                    Files.deleteIfExists(n);
                }
                return Optional.empty();
            }
            Path file = newest.get().file();
            Path link = layout.latestLink(target, file);
            for (Path n : names) {
                if (!n.equals(link)) {
                    Files.deleteIfExists(n); // one latest, named as its file reads
                }
            }
            Path relative = link.getParent().relativize(file);
            if (Files.isSymbolicLink(link) && Files.readSymbolicLink(link).equals(relative)) {
                return Optional.of(file);
            }
            Path tmpLink = Durable.temporarySibling(link);
            Files.createSymbolicLink(tmpLink, relative);
            try {
                Durable.rename(tmpLink, link);
            } finally {
                Files.deleteIfExists(tmpLink);
            }
            return Optional.of(file);
        } catch (IOException e) {
            throw Durable.storageError("cannot update " + plain, e);
        }
    }

    /**
     * Marks {@code dump} damaged in its manifest and, where it sits in a backup directory, moves
     * {@code latest} off it (under the target's lock when it can be had at once; a backup holding
     * the lock refreshes it when it ends, after this mark). Returns what was done, for the message.
     */
    public static String recordDamage(Path dump, Manifest m, String why) {
        Manifests manifests = new Manifests();
        try {
            manifests.markDamaged(dump, m, why);
        } catch (RuntimeException e) {
            return "It could not be marked damaged in its manifest (" + e.getMessage() + ").";
        }
        Path tierDir = dump.toAbsolutePath().getParent();
        Path targetDir = tierDir == null ? null : tierDir.getParent();
        boolean inLayout = targetDir != null && targetDir.getParent() != null && m.target() != null
                && targetDir.getFileName().toString().equals(m.target())
                && java.util.Arrays.stream(Tier.values()).anyMatch(t -> t.dir().equals(tierDir.getFileName().toString()));
        if (!inLayout) {
            return "It is now marked DAMAGED in its manifest.";
        }
        BackupLayout layout = new BackupLayout(targetDir.getParent());
        try (TargetLock lock = TargetLock.acquire(layout.lockFile(m.target()), m.target(), java.time.Duration.ofSeconds(2))) {
            Optional<Path> now = new Latest(layout, manifests).refresh(m.target());
            return "It is now marked DAMAGED in its manifest; latest is "
                    + now.map(p -> layout.root().relativize(p).toString()).orElse("none") + ".";
        } catch (RuntimeException e) {
            return "It is now marked DAMAGED in its manifest; latest moves off it when the running backup ends.";
        }
    }
}
