package io.backstop.restore;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Latest;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Manifests;
import io.backstop.catalog.Tier;
import io.backstop.config.Settings.RowCounts;
import io.backstop.counts.Drop;
import io.backstop.counts.DropDetector;
import io.backstop.counts.TargetState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * Turns what an operator types into one verified backup: a path, {@code latest} (see
 * {@link Latest}), {@code pinned} (what a data-loss alarm kept), a label ({@code pre-migration}:
 * the newest with it, safety backups included since the label names them), or a timestamp
 * prefix ({@code 20261121T13}, {@code 2026-11-21}). Bare references never pick a safety
 * backup. A file without a Backstop manifest is refused by name: restoring a foreign or
 * damaged file is how people lose twice.
 */
public final class Resolver {
    private final BackupLayout layout;
    private final Manifests manifests;

    public Resolver(BackupLayout layout, Manifests manifests) {
        this.layout = layout;
        this.manifests = manifests;
    }

    /** The backup a reference names, and how it was chosen (for the line every restore prints). */
    public record Resolved(Path file, Manifest manifest, String reference) {
        public Resolved(Path file, Manifest manifest) {
            this(file, manifest, file.toString());
        }
    }

    public Resolved resolve(String reference, String target) {
        Catalog catalog = new Catalog(layout, manifests);
        String ref = reference == null ? "latest" : reference;
        if (ref.equals("latest")) {
            Catalog.Entry newest = new Latest(layout, manifests).find(target).orElseThrow(() -> {
                long damaged = catalog.damaged(target);
                return new BackstopException(ExitCode.BAD_BACKUP, "target " + target + " has no intact verified backup"
                        + " taken while no data-loss alarm was raised under " + layout.targetDir(target)
                        + (damaged > 0 ? "; " + damaged + " no longer match their manifests (DAMAGED in backstop list)" : "")
                        + "; name one explicitly (backstop list)");
            });
            return resolved(newest, ref);
        }
        if (ref.equals("pinned")) {
            return pinned(target).orElseThrow(() -> new BackstopException(ExitCode.BAD_BACKUP, "target " + target
                    + " has no pinned backup (a data-loss alarm pins backups, and they stay pinned until `backstop ack`); use latest,"
                    + " a label or a timestamp prefix (see backstop list)"));
        }
        Optional<Catalog.Entry> labelled = newest(catalog, target, e -> ref.equals(e.manifest().orElseThrow().label()));
        if (labelled.isPresent()) {
            return resolved(labelled.get(), ref);
        }
        Path path = Path.of(ref);
        if (Files.exists(path) || ref.contains("/") || BackupLayout.isDumpName(ref)) {
            if (!Files.isRegularFile(path)) {
                throw new BackstopException(ExitCode.BAD_BACKUP, ref + " does not exist or is not a file");
            }
            Manifest m = manifests.read(path); // refuses a file without a manifest, by name
            if (!m.verified()) {
                throw new BackstopException(ExitCode.BAD_BACKUP, ref + " was never verified; refusing to restore it");
            }
            return new Resolved(path, m, ref);
        }
        String prefix = ref.replace("-", "").replace(":", "");
        return newest(catalog, target, e -> e.tier().regular() && stampOf(target, e).startsWith(prefix))
                .map(e -> resolved(e, ref))
                .orElseThrow(() -> new BackstopException(ExitCode.BAD_BACKUP, "no verified backup of target " + target
                        + " matches \"" + ref + "\"; allowed: a path, latest, pinned, a label, or a timestamp prefix"
                        + " such as 20261121T13 (see backstop list)"));
    }

    /** The evidence a data-loss alarm kept: the newest pinned backup, if an alarm pinned one. */
    public Optional<Resolved> pinned(String target) {
        return newest(new Catalog(layout, manifests), target, e -> e.tier().regular() && e.pinned())
                .map(e -> resolved(e, "pinned"));
    }

    private static Optional<Catalog.Entry> newest(Catalog catalog, String target, Predicate<Catalog.Entry> which) {
        return catalog.list(target).stream().filter(Catalog.Entry::verified).filter(which)
                .max(Comparator.comparingLong(e -> e.manifest().orElseThrow().sequence()));
    }

    private static String stampOf(String target, Catalog.Entry e) {
        return BackupLayout.parse(target, e.file().getFileName().toString())
                .map(n -> n.stamp().map(BackupLayout::stamp)
                        .orElseGet(() -> n.day().map(d -> d.toString().replace("-", "")).orElse("")))
                .orElse("");
    }

    private static Resolved resolved(Catalog.Entry e, String reference) {
        return new Resolved(e.file(), e.manifest().orElseThrow(), reference);
    }

    /**
     * One line saying which file a reference resolved to, its time, tier and its counts against
     * the target's baseline; printed before any restore or drill touches anything.
     */
    public String describe(Resolved r, TargetState state, RowCounts settings) {
        Manifest m = r.manifest();
        Path root = layout.root().toAbsolutePath();
        Path file = r.file().toAbsolutePath();
        StringBuilder line = new StringBuilder("backup ").append(r.reference()).append(" is ")
                .append(file.startsWith(root) ? root.relativize(file) : file)
                .append(" (taken ").append(m.startedAt()).append(", ").append(m.tier().dir()).append(" tier")
                .append(m.label() == null ? "" : ", label " + m.label())
                .append(m.takenDuringAlarm() ? ", taken while a data-loss alarm was raised" : "")
                .append(String.format(", %d tables, %,d rows", m.rowCounts().size(), m.totalRows()));
        TargetState.Baseline baseline = state.baseline();
        if (baseline != null && m.tier() != Tier.SAFETY) {
            List<Drop> below = belowBaseline(r, baseline, settings);
            line.append(String.format("; baseline %,d rows: %s", baseline.rowCounts().values().stream()
                    .mapToLong(Long::longValue).sum(), below.isEmpty() ? "no table below it"
                    : below.stream().map(Drop::describe).collect(Collectors.joining(", "))));
        }
        return line.append(')').toString();
    }

    /**
     * Refuses, unless {@code force}, a backup whose counts are below the baseline of a raised
     * data-loss alarm: it was most likely taken after the loss.
     */
    public void refuseIfBelowRaisedAlarm(Resolved r, TargetState state, RowCounts settings, boolean force) {
        if (force || !state.alarmRaised() || state.baseline() == null) {
            return;
        }
        List<Drop> below = belowBaseline(r, state.baseline(), settings);
        if (!below.isEmpty()) {
            throw new BackstopException(ExitCode.USAGE, r.file().getFileName() + " holds fewer rows than the baseline"
                    + " of the raised data-loss alarm (" + below.stream().map(Drop::describe)
                    .collect(Collectors.joining(", ")) + "): it was probably taken after the loss. Restore pinned"
                    + " (the evidence the alarm kept), or pass --force if this is really the one; nothing was changed");
        }
    }

    private static List<Drop> belowBaseline(Resolved r, TargetState.Baseline baseline, RowCounts settings) {
        DropDetector.Observation seen = new DropDetector.Observation(null, 0, r.manifest().rowCounts());
        return DropDetector.compare(baseline, seen, settings);
    }
}
