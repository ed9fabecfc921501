package io.backstop.retention;

import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Manifests;
import io.backstop.catalog.Tier;
import io.backstop.config.Settings;
import io.backstop.files.Durable;
import io.backstop.files.Sizes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What follows a verified backup: promote it to the daily (weekly, monthly) tier when it is
 * the first of its period, then apply retention. Runs only after a verified success, under
 * the target's lock, so it never races a running backup. {@link #prune} alone serves
 * {@code backstop prune}.
 */
public final class Prune {
    private static final Logger log = LoggerFactory.getLogger(Prune.class);

    private final Settings settings;
    private final BackupLayout layout;
    private final Manifests manifests;

    public Prune(Settings settings, BackupLayout layout, Manifests manifests) {
        this.settings = settings;
        this.layout = layout;
        this.manifests = manifests;
    }

    /** Files promoted and deleted by one rotation. */
    public record Result(List<Path> promoted, List<RetentionPlan.Deletion> deleted, Map<Tier, Integer> retained,
            long damaged) {
        public Result {
            promoted = List.copyOf(promoted);
            deleted = List.copyOf(deleted);
            retained = Map.copyOf(retained);
        }
    }

    public Result afterBackup(String target, Path newest, Manifest manifest) {
        List<Path> promoted = new ArrayList<>();
        if (manifest.tier() == Tier.HOURLY && manifest.verified()) {
            ZoneId zone = settings.timezone();
            LocalDate day = LocalDate.ofInstant(manifest.startedAt(), zone);
            promote(target, newest, manifest, Tier.DAILY, day, settings.retention().daily()).ifPresent(promoted::add);
            promote(target, newest, manifest, Tier.WEEKLY, day, settings.retention().weekly()).ifPresent(promoted::add);
            promote(target, newest, manifest, Tier.MONTHLY, day, settings.retention().monthly()).ifPresent(promoted::add);
        }
        List<RetentionPlan.Deletion> deleted = prune(target, false);
        return new Result(promoted, deleted, retained(target), new Catalog(layout, manifests).damaged(target));
    }

    /** Verified backups per tier, as they are now. */
    public Map<Tier, Integer> retained(String target) {
        Map<Tier, Integer> counts = new java.util.EnumMap<>(Tier.class);
        for (Tier t : Tier.values()) {
            counts.put(t, 0);
        }
        for (Catalog.Entry e : new Catalog(layout, manifests).list(target)) {
            if (e.verified()) {
                counts.merge(e.tier(), 1, Integer::sum);
            }
        }
        return counts;
    }

    /**
     * Applies (or with {@code dryRun} only plans) retention; logs each deletion with its reason.
     * A deletion is justified by the newer backups that stay, so before anything goes each of
     * those is checked against its manifest's sha256; a damaged one stops counting and the plan
     * is made again.
     */
    public List<RetentionPlan.Deletion> prune(String target, boolean dryRun) {
        Catalog catalog = new Catalog(layout, manifests);
        List<RetentionPlan.Deletion> plan;
        while (true) {
            List<Catalog.Entry> entries = catalog.list(target);
            plan = RetentionPlan.plan(entries, settings.retention());
            if (!survivorsDamaged(entries, plan)) {
                break;
            }
        }
        if (dryRun) {
            return plan;
        }
        for (RetentionPlan.Deletion d : plan) {
            try {
                // Manifest last: a crash in between leaves a manifest without dump, swept at start.
                Files.deleteIfExists(d.file());
                Files.deleteIfExists(BackupLayout.globalsOf(d.file()));
                Files.deleteIfExists(BackupLayout.manifestOf(d.file()));
                log.info("retention deleted {} ({})", layout.root().relativize(d.file()), d.reason());
            } catch (IOException e) {
                throw Durable.storageError("cannot delete " + d.file(), e);
            }
        }
        return plan;
    }

    /** Hashes the backups that stay in tiers that lose one; true when one of them turned out damaged. */
    private boolean survivorsDamaged(List<Catalog.Entry> entries, List<RetentionPlan.Deletion> plan) {
        java.util.Set<Tier> tiers = new java.util.HashSet<>();
        java.util.Set<Path> going = new java.util.HashSet<>();
        plan.forEach(d -> {
            tiers.add(d.tier());
            going.add(d.file());
        });
        boolean damaged = false;
        for (Catalog.Entry e : entries) {
            if (e.verified() && tiers.contains(e.tier()) && !going.contains(e.file())) {
                Optional<String> problem = manifests.integrity().thorough(e.file(), e.manifest().orElseThrow(), false);
                if (problem.isPresent()) {
                    manifests.markDamaged(e.file(), e.manifest().orElseThrow(), problem.get());
                    log.warn("{}: {}; it no longer counts as a verified backup and retention keeps what it would"
                            + " have replaced. Move it away and run backstop verify.", layout.root().relativize(e.file()),
                            problem.get());
                    damaged = true;
                }
            }
        }
        return damaged;
    }

    /**
     * Makes {@code dump} the tier's backup for its period unless the period already has one:
     * a hard link (no extra space), or a copy where the file system refuses links.
     */
    private Optional<Path> promote(String target, Path dump, Manifest manifest, Tier tier, LocalDate day, int keep) {
        if (keep <= 0) {
            return Optional.empty();
        }
        Path dir = layout.tierDir(target, tier);
        Durable.createDirectories(dir);
        if (periodTaken(target, tier, day)) {
            return Optional.empty();
        }
        Path to = layout.dated(target, tier, day, BackupLayout.suffix(dump));
        if (Files.exists(to, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            log.warn("not promoting {} to {}: {} exists without a readable manifest; move it away to resume {} backups",
                    dump.getFileName(), tier.dir(), to, tier.dir());
            return Optional.empty();
        }
        Path tmp = Durable.temporarySibling(to);
        try {
            try {
                Files.createLink(tmp, dump);
            } catch (IOException | UnsupportedOperationException e) {
                // Another file system under the backups directory, or one without hard links: the
                // promotion still happens, but it costs the file's size again, so say so.
                log.warn("cannot hard-link {} as the {} backup ({}); copying it instead, which uses {} more disk",
                        dump.getFileName(), tier.dir(), e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage(),
                        Sizes.bytes(Files.size(dump)));
                Files.copy(dump, tmp, StandardCopyOption.COPY_ATTRIBUTES);
                Durable.fsync(tmp);
            }
            Manifest promoted = manifest.withFile(to.getFileName().toString(), tier);
            Path globals = BackupLayout.globalsOf(dump);
            if (manifest.globals() != null && manifest.globals().taken() && Files.exists(globals)) {
                linkOrCopy(globals, BackupLayout.globalsOf(to));
                promoted = promoted.toBuilder().globals(new Manifest.Globals(BackupLayout.globalsOf(to).getFileName()
                        .toString(), manifest.globals().sha256(), manifest.globals().sizeBytes(),
                        manifest.globals().rolePasswords(), manifest.globals().roles(), null)).build();
            }
            manifests.write(to, promoted);
            Durable.rename(tmp, to);
            log.info("{} backup for {}: {}", tier.dir(), day, layout.root().relativize(to));
            return Optional.of(to);
        } catch (IOException e) {
            throw Durable.storageError("cannot promote " + dump.getFileName() + " to the " + tier.dir() + " tier", e);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // swept at the next start
            }
        }
    }

    /** {@code to} as a hard link of {@code from}, or a copy; given its name atomically. */
    private static void linkOrCopy(Path from, Path to) throws IOException {
        Path tmp = Durable.temporarySibling(to);
        try {
            try {
                Files.createLink(tmp, from);
            } catch (IOException | UnsupportedOperationException e) {
                Files.copy(from, tmp, StandardCopyOption.COPY_ATTRIBUTES);
                Durable.fsync(tmp);
            }
            Durable.rename(tmp, to);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private boolean periodTaken(String target, Tier tier, LocalDate day) {
        Catalog catalog = new Catalog(layout, manifests);
        ZoneId zone = settings.timezone();
        return catalog.list(target).stream()
                .filter(e -> e.tier() == tier && e.verified())
                .map(e -> BackupLayout.parse(target, e.file().getFileName().toString())
                        .flatMap(BackupLayout.Name::day)
                        .orElseGet(() -> LocalDate.ofInstant(e.started(), zone)))
                .anyMatch(d -> samePeriod(tier, d, day));
    }

    static boolean samePeriod(Tier tier, LocalDate a, LocalDate b) {
        return switch (tier) {
            case DAILY -> a.equals(b);
            case WEEKLY -> a.get(IsoFields.WEEK_BASED_YEAR) == b.get(IsoFields.WEEK_BASED_YEAR)
                    && a.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR) == b.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR);
            case MONTHLY -> a.getYear() == b.getYear() && a.getMonth() == b.getMonth();
            default -> false;
        };
    }
}
