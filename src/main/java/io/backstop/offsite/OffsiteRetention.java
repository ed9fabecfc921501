package io.backstop.offsite;

import io.backstop.catalog.BackupLayout;

import io.backstop.config.Settings;
import io.backstop.retention.RetentionPlan;
import io.backstop.retention.RetentionPlan.Candidate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Offsite retention: its own counts, applied to recorded copies only. A copy whose backup is pinned stays;
 * one still under object lock (or refused by the store) stays without an error.
 */
final class OffsiteRetention {
    private static final Logger log = LoggerFactory.getLogger(OffsiteRetention.class);

    /** A copy that is due to go, and why. */
    record Due(Copy copy, String reason) {
    }

    /** What one pass did: copies deleted, and copies due that stayed (object lock, or the store refused). */
    record Outcome(int deleted, int locked) {
    }

    private final Settings.Offsite settings;
    private final Ledger ledger;
    private final Supplier<ObjectStore> store;
    private final Clock clock;

    OffsiteRetention(Settings.Offsite settings, Ledger ledger, Supplier<ObjectStore> store, Clock clock) {
        this.settings = settings;
        this.ledger = ledger;
        this.store = store;
        this.clock = clock;
    }

    /** The copies the counts of {@code retention} let go, oldest tier first. Pure. */
    static List<Due> plan(Collection<Copy> copies, Settings.Retention retention) {
        Map<String, Copy> byLocal = new java.util.HashMap<>();
        List<Candidate> candidates = new ArrayList<>();
        for (Copy c : copies) {
            byLocal.put(c.local(), c);
            candidates.add(new Candidate(c.localPath(), c.tier(), c.sequence(), c.pinned()));
        }
        return RetentionPlan.planCandidates(candidates, retention).stream()
                .map(d -> new Due(byLocal.get(d.file().toString()), d.reason())).toList();
    }

    /**
     * Refreshes each copy's pin from {@code pinnedNow} (the local manifest wins while it exists), then deletes
     * what is due, recording each deletion as it is done.
     */
    Outcome apply(String target, Ledger.State state, Predicate<Copy> pinnedNow) {
        boolean changed = false;
        for (Copy c : new ArrayList<>(state.copies().values())) {
            boolean pinned = pinnedNow.test(c);
            if (pinned != c.pinned()) {
                state.copies().put(c.local(), c.withPinned(pinned));
                changed = true;
            }
        }
        if (changed) {
            ledger.save(target, state);
        }
        int deleted = 0;
        int locked = 0;
        Instant now = clock.instant();
        for (Due due : plan(state.copies().values(), settings.retention())) {
            Copy c = due.copy();
            if (c.retainUntil() != null && now.isBefore(c.retainUntil())) {
                locked++;
                continue; // retained by object lock: not an error, and not retried as one
            }
            ObjectStore.Deleted gone = store.get().delete(c.key());
            if (!gone.gone()) {
                locked++;
                log.info("offsite {}: {} is due to go ({}) but the store refuses the delete ({}: object lock or a"
                        + " policy); it stays", target, c.key(), due.reason(), gone.refusal());
                continue;
            }
            store.get().delete(BackupLayout.globalsOf(java.nio.file.Path.of(c.key())).toString());
            store.get().delete(c.manifestKey());
            state.copies().remove(c.local());
            ledger.save(target, state);
            deleted++;
            log.info("offsite {}: deleted {} ({})", target, c.key(), due.reason());
        }
        return new Outcome(deleted, locked);
    }
}
