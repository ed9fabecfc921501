package io.backstop.retention;

import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Tier;
import io.backstop.config.Settings.Retention;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Decides which backups go. Pure: it reads a catalog and never touches the disk. Only
 * verified backups with a readable manifest are counted or deleted; within a tier the newest
 * {@code keep} by sequence (creation order, not clock time) stay. Never deleted, whatever the
 * counts say: a pinned backup, the newest verified backup of the target, anything without a
 * manifest (foreign, or damaged: an operator looks at those).
 */
public final class RetentionPlan {
    private RetentionPlan() {
    }

    /** One backup to delete and why. */
    public record Deletion(Path file, Tier tier, long sequence, String reason) {
    }

    public static List<Deletion> plan(List<Catalog.Entry> entries, Retention retention) {
        Comparator<Catalog.Entry> newestFirst = Comparator
                .comparingLong((Catalog.Entry e) -> e.manifest().map(Manifest::sequence).orElse(0L)).reversed();
        Optional<Catalog.Entry> newest = entries.stream().filter(Catalog.Entry::verified).min(newestFirst);
        // Several tiers can hold the same backup (hard links); "newest" protects every copy of it.
        long newestSequence = newest.flatMap(Catalog.Entry::manifest).map(Manifest::sequence).orElse(-1L);

        Map<Tier, List<Catalog.Entry>> byTier = entries.stream()
                .filter(Catalog.Entry::verified)
                .collect(Collectors.groupingBy(Catalog.Entry::tier));
        List<Deletion> deletions = new ArrayList<>();
        for (Map.Entry<Tier, List<Catalog.Entry>> tier : byTier.entrySet()) {
            int keep = keep(retention, tier.getKey());
            List<Catalog.Entry> sorted = tier.getValue().stream().sorted(newestFirst).toList();
            for (int i = keep; i < sorted.size(); i++) {
                Catalog.Entry e = sorted.get(i);
                Manifest m = e.manifest().orElseThrow();
                if (m.pinned() || m.sequence() == newestSequence) {
                    continue;
                }
                deletions.add(new Deletion(e.file(), e.tier(), m.sequence(), tier.getKey().dir() + " keeps " + keep
                        + (keep == 1 ? " backup" : " backups") + "; " + i + " newer verified "
                        + (i == 1 ? "one exists" : "ones exist")));
            }
        }
        deletions.sort(Comparator.comparing(Deletion::tier).thenComparingLong(Deletion::sequence));
        return deletions;
    }

    static int keep(Retention r, Tier tier) {
        return switch (tier) {
            case HOURLY -> r.hourly();
            case DAILY -> r.daily();
            case WEEKLY -> r.weekly();
            case MONTHLY -> r.monthly();
            case MANUAL -> r.manual();
            case SAFETY -> r.safety();
        };
    }
}
