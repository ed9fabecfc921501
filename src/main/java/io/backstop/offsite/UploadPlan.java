package io.backstop.offsite;

import io.backstop.catalog.Catalog;
import io.backstop.config.Settings.Retention;
import io.backstop.retention.RetentionPlan;
import io.backstop.retention.RetentionPlan.Candidate;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * Which local backups a sync uploads, and in what order. Pure: it reads the catalog's entries and the
 * recorded copies, never the disk or the store.
 */
final class UploadPlan {
    private UploadPlan() {
    }

    /**
     * The verified local backups without a copy that offsite retention would keep: one it would delete at
     * once (an hourly beyond the offsite count that is still kept locally) is never uploaded. {@code
     * pinnedNow} says whether a recorded copy's backup is pinned now.
     */
    static List<Catalog.Entry> pending(List<Catalog.Entry> local, Map<String, Copy> copies, Retention retention,
            Predicate<Copy> pinnedNow) {
        List<Catalog.Entry> verified = local.stream().filter(Catalog.Entry::verified).toList();
        Map<String, Candidate> candidates = new LinkedHashMap<>();
        for (Copy c : copies.values()) {
            candidates.put(c.local(), new Candidate(c.localPath(), c.tier(), c.sequence(), pinnedNow.test(c)));
        }
        for (Catalog.Entry e : verified) {
            candidates.putIfAbsent(relative(e), new Candidate(Path.of(relative(e)), e.tier(),
                    e.manifest().orElseThrow().sequence(), e.pinned()));
        }
        Set<String> unwanted = RetentionPlan.planCandidates(new ArrayList<>(candidates.values()), retention).stream()
                .map(d -> d.file().toString()).collect(Collectors.toSet());
        return verified.stream().filter(e -> !copies.containsKey(relative(e)) && !unwanted.contains(relative(e)))
                .toList();
    }

    /**
     * Upload order: newest first (the copy that matters most after a host loss); within one backup, the hourly
     * or manual original before its promotions, which are then copied inside the store.
     */
    static List<Catalog.Entry> ordered(Collection<Catalog.Entry> pending) {
        List<Catalog.Entry> sorted = new ArrayList<>(pending);
        sorted.sort(Comparator.comparing((Catalog.Entry e) -> -e.manifest().orElseThrow().sequence())
                .thenComparing(Catalog.Entry::tier));
        return sorted;
    }

    /** A backup's path under its target, as a copy records it: {@code hourly/x.dump}. */
    static String relative(Catalog.Entry e) {
        return e.tier().dir() + "/" + e.file().getFileName();
    }
}
