package io.backstop.retention;

import io.backstop.catalog.Catalog;
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

    /**
     * What the plan needs of a verified backup, local or offsite: where it is, its tier, its place in
     * creation order, and whether it is pinned.
     */
    public record Candidate(Path file, Tier tier, long sequence, boolean pinned) {
        /** A catalog entry as a candidate; empty when it is not verified (never counted, never deleted). */
        public static Optional<Candidate> of(Catalog.Entry e) {
            return e.verified() ? Optional.of(new Candidate(e.file(), e.tier(), e.manifest().orElseThrow().sequence(),
                    e.pinned())) : Optional.empty();
        }
    }

    /** The plan for a target's catalog: its verified entries are the candidates. */
    public static List<Deletion> plan(List<Catalog.Entry> entries, Retention retention) {
        return planCandidates(entries.stream().flatMap(e -> Candidate.of(e).stream()).toList(), retention);
    }

    public static List<Deletion> planCandidates(List<Candidate> candidates, Retention retention) {
        Comparator<Candidate> newestFirst = Comparator.comparingLong(Candidate::sequence).reversed();
        // Several tiers can hold the same backup (hard links); "newest" protects every copy of it.
        long newestSequence = candidates.stream().min(newestFirst).map(Candidate::sequence).orElse(-1L);
        Map<Tier, List<Candidate>> byTier = candidates.stream().collect(Collectors.groupingBy(Candidate::tier));
        List<Deletion> deletions = new ArrayList<>();
        for (Map.Entry<Tier, List<Candidate>> tier : byTier.entrySet()) {
            int keep = keep(retention, tier.getKey());
            List<Candidate> sorted = tier.getValue().stream().sorted(newestFirst).toList();
            for (int i = keep; i < sorted.size(); i++) {
                Candidate c = sorted.get(i);
                if (c.pinned() || c.sequence() == newestSequence) {
                    continue;
                }
                deletions.add(new Deletion(c.file(), c.tier(), c.sequence(), tier.getKey().dir() + " keeps " + keep
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
