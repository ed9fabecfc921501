package io.backstop.notify;

import io.backstop.config.Settings;
import io.backstop.counts.Drop;
import io.backstop.http.Health;
import io.backstop.files.Sizes;
import io.backstop.http.HealthState;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The problems of one target a person should hear of, read from what /health says and the facts
 * behind it: each with a one-line title, the facts, and the command that helps.
 */
final class Watch {
    private Watch() {
    }

    /** A problem as it stands now: a new reading replaces the old one while it lasts. */
    record Problem(String title, List<String> lines, String command, Map<String, Object> details) {
    }

    static Map<Event.Kind, Problem> problems(Settings settings, Settings.Target target, Health.TargetHealth health,
            HealthState state, Instant now) {
        String t = target.name();
        HealthState.TargetFacts f = state.get(t);
        Map<Event.Kind, Problem> out = new EnumMap<>(Event.Kind.class);
        List<Health.Reason> reasons = health.reasons();
        if (reasons.contains(Health.Reason.DATA_DROP)) {
            out.put(Event.Kind.DATA_LOSS, dataLoss(t, health, state));
        }
        if (reasons.contains(Health.Reason.FAILING) && f.consecutiveFailures() >= settings.notifications().failures()) {
            List<String> lines = new ArrayList<>();
            lines.add("Last error: " + (f.lastError() == null ? "(none recorded)" : f.lastError()));
            lines.add(newest(f.lastSuccess(), now));
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("consecutive_failures", f.consecutiveFailures());
            d.put("error", f.lastError());
            d.put("newest_verified_backup", f.lastSuccess() == null ? null : f.lastSuccess().toString());
            out.put(Event.Kind.BACKUP_FAILING, new Problem(t + ": backups failing (" + f.consecutiveFailures()
                    + " in a row)", lines, "backstop doctor --target " + t, d));
        }
        if (reasons.contains(Health.Reason.STALE) || reasons.contains(Health.Reason.NO_BACKUP)) {
            String title = f.lastSuccess() == null ? t + ": no verified backup since Backstop started"
                    : t + ": newest verified backup is " + Sizes.age(Duration.between(f.lastSuccess(), now)) + " old";
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("newest_verified_backup", f.lastSuccess() == null ? null : f.lastSuccess().toString());
            d.put("stale_after_seconds", settings.staleAfter().toSeconds());
            out.put(Event.Kind.BACKUP_STALE, new Problem(title, List.of(newest(f.lastSuccess(), now),
                    "Allowed age (stale-after): " + Sizes.age(settings.staleAfter()) + ".",
                    f.inProgress() ? "A backup is running now." : "No backup is running."),
                    "backstop backup --target " + t, d));
        }
        if (reasons.contains(Health.Reason.BACKUP_DAMAGED)) {
            long n = state.damaged(t);
            out.put(Event.Kind.BACKUP_DAMAGED, new Problem(t + ": " + n + (n == 1 ? " backup no longer matches its"
                    + " manifest" : " backups no longer match their manifests"),
                    List.of("A damaged backup is never restored from and never counts as the newest."),
                    "backstop list --target " + t, Map.of("damaged", n)));
        }
        if (reasons.contains(Health.Reason.DRILL_FAILED) || reasons.contains(Health.Reason.DRILL_NOT_RUN)) {
            boolean ran = reasons.contains(Health.Reason.DRILL_FAILED);
            List<String> lines = new ArrayList<>();
            lines.add(ran ? "The last restore drill restored a backup and found it wrong: it would fail the day it is"
                    + " needed." : "The restore drill could not run, so no backup has been proved to restore.");
            if (f.lastDrillSuccess() != null) {
                lines.add("Last drill that passed: " + f.lastDrillSuccess() + ".");
            }
            io.backstop.verify.PitrDrill.Result replay = state.pitrDrill(t);
            if (replay != null && replay.ran() && !replay.passed()) {
                lines.add("The PITR drill failed: the WAL archive did not replay to a dump's position.");
            }
            out.put(Event.Kind.DRILL_FAILED, new Problem(t + (ran ? ": restore drill failed" : ": restore drill could"
                    + " not run"), lines, "backstop verify --target " + t, Map.of("ran", ran)));
        }
        if (reasons.contains(Health.Reason.OFFSITE_STALE)) {
            HealthState.OffsiteFacts o = state.offsite(t);
            List<String> lines = new ArrayList<>();
            lines.add("A verified backup has waited " + Sizes.age(Duration.ofSeconds((long) state.offsiteLagSeconds(t, now)))
                    + " for its offsite copy.");
            if (o.lastError() != null) {
                lines.add("Last error: " + o.lastError());
            }
            if (o.lastSuccess() != null) {
                lines.add("Last copy: " + o.lastSuccess() + ".");
            }
            out.put(Event.Kind.OFFSITE_STALE, new Problem(t + ": offsite copies are behind", lines,
                    "backstop offsite --target " + t, Map.of("lag_seconds", (long) state.offsiteLagSeconds(t, now))));
        }
        io.backstop.pitr.Pitr.Status wal = health.pitr();
        if (reasons.contains(Health.Reason.WAL_STALE) && wal != null) {
            List<String> lines = new ArrayList<>();
            lines.add(wal.lastReceivedAt() == null ? "No WAL has arrived yet." : "Last WAL received: "
                    + wal.lastReceivedAt() + " (" + Sizes.age(Duration.between(wal.lastReceivedAt(), now)) + " ago).");
            if (wal.problem() != null) {
                lines.add(wal.problem());
            }
            lines.add("Restores to a second end where the archive ends.");
            out.put(Event.Kind.WAL_STALE, new Problem(t + ": WAL streaming has stalled", lines,
                    "backstop doctor --target " + t, Map.of("streaming", wal.streaming())));
        }
        if (reasons.contains(Health.Reason.WAL_GAP) && wal != null) {
            List<String> lines = new ArrayList<>();
            lines.add(wal.window().from() == null ? "There is no recoverable window: no base backup with continuous WAL"
                    + " after it." : "Recoverable window: " + wal.window().from() + " to " + wal.window().to() + ".");
            for (String gap : wal.window().gaps()) {
                lines.add("Gap: " + gap);
            }
            lines.add("A new base backup is taken at once; the window restarts there.");
            out.put(Event.Kind.WAL_GAP, new Problem(t + ": gap in the WAL archive", lines,
                    "backstop list --target " + t, Map.of("gaps", wal.window().gaps())));
        }
        if (wal != null && target.pitr().enabled() && wal.slotRetainedBytes() > target.pitr().slotAlertBytes()) {
            out.put(Event.Kind.WAL_RETENTION, new Problem(t + ": the replication slot holds back "
                    + Sizes.bytes(wal.slotRetainedBytes()) + " of WAL on the server", List.of(
                    "Alert threshold (pitr.slot-alert): " + Sizes.bytes(target.pitr().slotAlertBytes()) + ".",
                    "The server keeps this WAL until Backstop receives it; set max_slot_wal_keep_size on the server so"
                            + " a stopped sidecar cannot fill its disk."),
                    "backstop doctor --target " + t, Map.of("retained_bytes", wal.slotRetainedBytes())));
        }
        return out;
    }

    private static Problem dataLoss(String t, Health.TargetHealth health, HealthState state) {
        List<Drop> drops = health.drops();
        List<String> lines = new ArrayList<>();
        for (Drop d : drops) {
            lines.add(d.describe());
        }
        List<String> pinned = state.pinned(t);
        if (!pinned.isEmpty()) {
            lines.add("Pinned (rotation never deletes them): " + String.join(", ", pinned));
        }
        io.backstop.pitr.Incidents.Incident incident = health.incident();
        if (incident != null) {
            lines.add("Incident: " + incident.describe());
        }
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("drops", drops);
        d.put("pinned", pinned);
        d.put("incident", incident);
        String first = drops.isEmpty() ? "rows dropped" : drops.get(0).describe();
        String title = t + ": DATA LOSS: " + first + (drops.size() > 1 ? " (and " + (drops.size() - 1) + " more)" : "");
        return new Problem(title, lines, health.recover(), d);
    }

    private static String newest(Instant lastSuccess, Instant now) {
        return lastSuccess == null ? "No verified backup is known." : "Newest verified backup: " + lastSuccess + " ("
                + Sizes.age(Duration.between(lastSuccess, now)) + " ago).";
    }
}
