package io.backstop.http;

import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifest;
import io.backstop.config.Settings;
import io.backstop.counts.StateStore;
import io.backstop.counts.TargetState;
import io.backstop.offsite.Copy;
import io.backstop.offsite.Offsite;
import io.backstop.retention.Prune;
import io.backstop.verify.Drill;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** What /health and /metrics know before the daemon's first event: the newest backups and state.json on disk. */
public final class HealthSeed {
    private HealthSeed() {
    }

    public static void seed(HealthState state, Settings settings, Catalog catalog, StateStore states,
            Prune rotation, Optional<Offsite> offsite) {
        for (Settings.Target t : settings.targets()) {
            seed(state, t, catalog, states, rotation, offsite);
        }
    }

    /** One target from disk: at start-up, and in a fleet whenever another node ran one of its jobs. */
    public static void seed(HealthState state, Settings.Target t, Catalog catalog, StateStore states,
            Prune rotation, Optional<Offsite> offsite) {
        Optional<Catalog.Entry> newestEntry = catalog.newestVerified(t.name());
        Instant newest = newestEntry.flatMap(Catalog.Entry::manifest).map(Manifest::finishedAt).orElse(null);
        TargetState st = states.read(t.name());
        Map<String, Long> baseline = st.baseline() == null ? Map.of() : st.baseline().rowCounts();
        Map<String, Long> rows = st.lastCheck() != null ? st.lastCheck().rowCounts() : baseline;
        state.seed(t.name(), newest, rows, baseline, st.alarmRaised(),
                st.alarm() == null ? List.of() : st.alarm().drops(), rotation.retained(t.name()));
        state.damaged(t.name(), catalog.damaged(t.name()));
        java.util.Set<String> pins = new java.util.LinkedHashSet<>(st.held());
        if (st.alarm() != null) {
            pins.addAll(st.alarm().pinned());
        }
        state.pinned(t.name(), List.copyOf(pins));
        offsite.ifPresent(o -> state.seedOffsite(t.name(), o.state(t.name()).copies().values().stream()
                .map(Copy::uploadedAt).max(Comparator.naturalOrder()).orElse(null),
                o.waitingSince(t.name()).orElse(null)));
        newestEntry.flatMap(Catalog.Entry::manifest).map(Manifest::lastDrill)
                .ifPresent(d -> state.drilled(t.name(), new Drill.Result(d.passed(), true, d.details(),
                        Duration.ofMillis((long) (d.durationSeconds() * 1000)), 0, null, d)));
    }
}
