package io.backstop.backup;

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
}
