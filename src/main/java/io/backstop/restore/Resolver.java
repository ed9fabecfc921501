package io.backstop.restore;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.backup.BackupLayout;
import io.backstop.backup.Catalog;
import io.backstop.backup.Manifest;
import io.backstop.backup.Manifests;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Turns what an operator types into one verified backup: a path, {@code latest}, {@code pinned}
 * (what a data-loss alarm kept), a label ({@code pre-migration}: the newest with it), or a
 * timestamp prefix ({@code 20261121T13}, {@code 2026-11-21}). A file without a Backstop
 * manifest is refused by name: restoring a foreign or damaged file is how people lose twice.
 */
public final class Resolver {
    private final BackupLayout layout;
    private final Manifests manifests;

    public Resolver(BackupLayout layout, Manifests manifests) {
        this.layout = layout;
        this.manifests = manifests;
    }

    public record Resolved(Path file, Manifest manifest) {
    }

    public Resolved resolve(String reference, String target) {
        Catalog catalog = new Catalog(layout, manifests);
        if (reference == null || reference.equals("latest")) {
            Catalog.Entry newest = catalog.newestVerified(target).orElseThrow(() -> new BackstopException(
                    ExitCode.BAD_BACKUP, "target " + target + " has no verified backup under " + layout.targetDir(target)));
            return new Resolved(newest.file(), newest.manifest().orElseThrow());
        }
        if (reference.equals("pinned")) {
            // The evidence a data-loss alarm kept: the newest pinned backup.
            return catalog.list(target).stream().filter(e -> e.verified() && e.pinned())
                    .max(Comparator.comparingLong(e -> e.manifest().orElseThrow().sequence()))
                    .map(e -> new Resolved(e.file(), e.manifest().orElseThrow()))
                    .orElseThrow(() -> new BackstopException(ExitCode.BAD_BACKUP, "target " + target
                            + " has no pinned backup (pins exist only while a data-loss alarm is raised); use latest,"
                            + " a label or a timestamp prefix (see backstop list)"));
        }
        Optional<Catalog.Entry> labelled = catalog.list(target).stream()
                .filter(e -> e.verified() && reference.equals(e.manifest().orElseThrow().label()))
                .max(Comparator.comparingLong(e -> e.manifest().orElseThrow().sequence()));
        if (labelled.isPresent()) {
            return new Resolved(labelled.get().file(), labelled.get().manifest().orElseThrow());
        }
        Path path = Path.of(reference);
        if (Files.exists(path) || reference.contains("/") || reference.endsWith(".dump")) {
            if (!Files.isRegularFile(path)) {
                throw new BackstopException(ExitCode.BAD_BACKUP, reference + " does not exist or is not a file");
            }
            Manifest m = manifests.read(path); // refuses a file without a manifest, by name
            if (!m.verified()) {
                throw new BackstopException(ExitCode.BAD_BACKUP, reference + " was never verified; refusing to restore it");
            }
            return new Resolved(path, m);
        }
        String prefix = reference.replace("-", "").replace(":", "");
        List<Catalog.Entry> matches = catalog.list(target).stream().filter(Catalog.Entry::verified)
                .filter(e -> BackupLayout.parse(target, e.file().getFileName().toString())
                        .map(n -> n.stamp().map(BackupLayout::stamp)
                                .orElseGet(() -> n.day().map(d -> d.toString().replace("-", "")).orElse("")))
                        .orElse("").startsWith(prefix))
                .toList();
        Optional<Catalog.Entry> newest = matches.stream()
                .max(Comparator.comparingLong(e -> e.manifest().orElseThrow().sequence()));
        Catalog.Entry entry = newest.orElseThrow(() -> new BackstopException(ExitCode.BAD_BACKUP, "no verified backup of"
                + " target " + target + " matches \"" + reference + "\"; allowed: a path, latest, pinned, a label, or a"
                + " timestamp prefix such as 20261121T13 (see backstop list)"));
        return new Resolved(entry.file(), entry.manifest().orElseThrow());
    }
}
