package io.backstop.http;

import io.backstop.BackstopException;
import io.backstop.backup.BackupResult;
import io.backstop.catalog.Tier;
import io.backstop.counts.Check;
import io.backstop.counts.Drop;
import io.backstop.retention.Prune;
import io.backstop.schedule.Reporter;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What /health and /metrics answer from: the daemon's events, kept in memory. Reading it
 * never touches the database or the disk, so a running dump, a hung server or a slow disk
 * cannot slow an answer down.
 */
public final class HealthState implements Reporter {
    /** One target's facts; replaced whole on every event, so readers see a consistent snapshot. */
    public record TargetFacts(Instant lastSuccess, Instant lastAttempt, boolean lastAttemptFailed,
            int consecutiveFailures, String lastError, boolean inProgress, double lastDurationSeconds,
            long lastSizeBytes, Map<String, Long> tableRows, Map<String, Long> baseline, boolean alarm,
            List<Drop> drops, Instant lastCheck, Map<Tier, Integer> retained, Instant lastDrillSuccess,
            Integer lastDrillResult) {
        static TargetFacts initial() {
            return new TargetFacts(null, null, false, 0, null, false, 0, 0, Map.of(), Map.of(), false, List.of(), null,
                    Map.of(), null, null);
        }
    }

    private final Map<String, TargetFacts> facts = new ConcurrentHashMap<>();
    private final Map<String, Map<String, AtomicLong>> runs = new ConcurrentHashMap<>();
    private final Map<String, Map<Tier, AtomicLong>> deleted = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> damaged = new ConcurrentHashMap<>();
    private final Map<String, Double> drillSeconds = new ConcurrentHashMap<>();
    private final Map<String, Double> drillBytes = new ConcurrentHashMap<>();
    private final Map<String, OffsiteFacts> offsite = new ConcurrentHashMap<>();
    private final Map<String, io.backstop.pitr.Pitr.Status> pitr = new ConcurrentHashMap<>();

    @Override
    public void pitr(String target, io.backstop.pitr.Pitr.Status status) {
        pitr.put(target, status);
    }

    private final Map<String, io.backstop.verify.PitrDrill.Result> pitrDrills = new ConcurrentHashMap<>();
    private final Map<String, io.backstop.pitr.Incidents.Found> incidents = new ConcurrentHashMap<>();

    @Override
    public void incidentFound(String target, Instant alarmRaisedAt, io.backstop.pitr.Incidents.Incident incident) {
        incidents.put(target, new io.backstop.pitr.Incidents.Found(alarmRaisedAt, incident));
    }

    /** The incident found for {@code target}'s raised alarm; null when none was (yet), or no alarm is raised. */
    public io.backstop.pitr.Incidents.Incident incident(String target) {
        io.backstop.pitr.Incidents.Found f = incidents.get(target);
        return f == null ? null : f.incident();
    }

    @Override
    public void pitrDrilled(String target, io.backstop.verify.PitrDrill.Result result) {
        pitrDrills.put(target, result);
    }

    /** The last PITR drill of {@code target}; null before the first. */
    public io.backstop.verify.PitrDrill.Result pitrDrill(String target) {
        return pitrDrills.get(target);
    }

    /** The newest PITR reading of {@code target}; null before the first (or with PITR off). */
    public io.backstop.pitr.Pitr.Status pitr(String target) {
        return pitr.get(target);
    }

    /**
     * A target's offsite copies: when a sync last succeeded, since when the newest local backup
     * without a copy has waited (null: none waits), and the running totals.
     */
    public record OffsiteFacts(Instant lastSuccess, Instant waitingSince, long uploadedBytes, long failures,
            String lastError) {
        static final OffsiteFacts NONE = new OffsiteFacts(null, null, 0, 0, null);
    }

    public OffsiteFacts offsite(String target) {
        return offsite.getOrDefault(target, OffsiteFacts.NONE);
    }

    /** Seconds the newest local backup without an offsite copy has waited at {@code now}; 0 when none waits. */
    public double offsiteLagSeconds(String target, Instant now) {
        Instant since = offsite(target).waitingSince();
        return since == null ? 0 : Math.max(0, java.time.Duration.between(since, now).toMillis() / 1000.0);
    }

    /** Seeds the offsite facts from offsite-*.json at start-up. */
    public void seedOffsite(String target, Instant lastSuccess, Instant waitingSince) {
        offsite.put(target, new OffsiteFacts(lastSuccess, waitingSince, 0, 0, null));
    }

    @Override
    public void offsiteSynced(String target, io.backstop.offsite.Offsite.Status status) {
        offsite.compute(target, (k, f) -> {
            OffsiteFacts b = f == null ? OffsiteFacts.NONE : f;
            return new OffsiteFacts(status.at(), null, b.uploadedBytes() + status.bytes(), b.failures(), null);
        });
    }

    @Override
    public void offsiteFailed(String target, BackstopException error, Instant waitingSince) {
        offsite.compute(target, (k, f) -> {
            OffsiteFacts b = f == null ? OffsiteFacts.NONE : f;
            return new OffsiteFacts(b.lastSuccess(), waitingSince, b.uploadedBytes(), b.failures() + 1,
                    error.getMessage());
        });
    }

    @Override
    public void offsiteWaiting(String target, Instant waitingSince) {
        offsite.compute(target, (k, f) -> {
            OffsiteFacts b = f == null ? OffsiteFacts.NONE : f;
            return new OffsiteFacts(b.lastSuccess(), waitingSince, b.uploadedBytes(), b.failures(), b.lastError());
        });
    }

    /**
     * One notification channel's deliveries: counts, the last delivery, since when it fails (null: it does
     * not) and its last error (safe to show: channels never put a URL, token or password in one).
     */
    public record NotifyFacts(String channel, String type, long delivered, long failures, long dropped,
            Instant lastDelivered, Instant failingSince, String lastError) {
    }

    private final Map<String, NotifyFacts> notifications = new ConcurrentHashMap<>();
    private final Map<String, List<String>> pinned = new ConcurrentHashMap<>();

    /** A configured channel, before its first message. */
    public void notifyChannel(String channel, String type) {
        notifications.putIfAbsent(channel, new NotifyFacts(channel, type, 0, 0, 0, null, null, null));
    }

    public void notifyDelivered(String channel, Instant at) {
        notifications.computeIfPresent(channel, (k, f) -> new NotifyFacts(k, f.type(), f.delivered() + 1, f.failures(),
                f.dropped(), at, null, f.lastError()));
    }

    public void notifyFailed(String channel, String error, Instant at) {
        notifications.computeIfPresent(channel, (k, f) -> new NotifyFacts(k, f.type(), f.delivered(), f.failures() + 1,
                f.dropped(), f.lastDelivered(), f.failingSince() == null ? at : f.failingSince(), error));
    }

    /** A message given up on: the queue was full, or it could not be delivered for too long. */
    public void notifyDropped(String channel) {
        notifications.computeIfPresent(channel, (k, f) -> new NotifyFacts(k, f.type(), f.delivered(), f.failures(),
                f.dropped() + 1, f.lastDelivered(), f.failingSince(), f.lastError()));
    }

    /** Every configured channel by name (the heartbeat among them when set). */
    public Map<String, NotifyFacts> notifications() {
        return new java.util.TreeMap<>(notifications);
    }

    public NotifyFacts notification(String channel) {
        return notifications.get(channel);
    }

    /** The backups a raised alarm pinned and those still held after it cleared, until ack releases them. */
    public List<String> pinned(String target) {
        return pinned.getOrDefault(target, List.of());
    }

    public void pinned(String target, List<String> files) {
        pinned.put(target, List.copyOf(files));
    }

    /** lastDrillResult when no drill could run (no server binaries, no drill server, no room). */
    public static final int DRILL_NOT_RUN = -2;

    public double drillSeconds(String target) {
        return drillSeconds.getOrDefault(target, 0.0);
    }

    public double drillRestoredBytes(String target) {
        return drillBytes.getOrDefault(target, 0.0);
    }

    public TargetFacts get(String target) {
        return facts.getOrDefault(target, TargetFacts.initial());
    }

    public Map<String, TargetFacts> all() {
        return Map.copyOf(facts);
    }

    public long runs(String target, String result) {
        return runs.getOrDefault(target, Map.of()).getOrDefault(result, new AtomicLong()).get();
    }

    public long deleted(String target, Tier tier) {
        return deleted.getOrDefault(target, Map.of()).getOrDefault(tier, new AtomicLong()).get();
    }

    public long damaged(String target) {
        return damaged.getOrDefault(target, new AtomicLong()).get();
    }

    @Override
    public void damaged(String target, long count) {
        damaged.computeIfAbsent(target, k -> new AtomicLong()).set(count);
    }

    /** Seeds a target from disk at start-up, before the first event. */
    public void seed(String target, Instant newestVerified, Map<String, Long> rows, Map<String, Long> baseline,
            boolean alarm, List<Drop> drops, Map<Tier, Integer> retained) {
        facts.compute(target, (k, f) -> {
            TargetFacts b = f == null ? TargetFacts.initial() : f;
            return new TargetFacts(newestVerified, b.lastAttempt(), b.lastAttemptFailed(), b.consecutiveFailures(),
                    b.lastError(), b.inProgress(), b.lastDurationSeconds(), b.lastSizeBytes(), rows, baseline, alarm,
                    drops, b.lastCheck(), retained, b.lastDrillSuccess(), b.lastDrillResult());
        });
    }

    @Override
    public void attempt(String target, Instant at) {
        facts.compute(target, (k, f) -> {
            TargetFacts b = f == null ? TargetFacts.initial() : f;
            return new TargetFacts(b.lastSuccess(), at, b.lastAttemptFailed(), b.consecutiveFailures(), b.lastError(),
                    true, b.lastDurationSeconds(), b.lastSizeBytes(), b.tableRows(), b.baseline(), b.alarm(), b.drops(),
                    b.lastCheck(), b.retained(), b.lastDrillSuccess(), b.lastDrillResult());
        });
    }

    @Override
    public void success(String target, BackupResult result, Prune.Result rotation) {
        counter(runs, target, "success");
        damaged(target, rotation.damaged());
        for (var d : rotation.deleted()) {
            deleted.computeIfAbsent(target, k -> new ConcurrentHashMap<>()).computeIfAbsent(d.tier(), k -> new AtomicLong())
                    .incrementAndGet();
        }
        facts.compute(target, (k, f) -> {
            TargetFacts b = f == null ? TargetFacts.initial() : f;
            return new TargetFacts(result.manifest().finishedAt(), b.lastAttempt(), false, 0, null, false,
                    result.duration().toNanos() / 1e9, result.bytes(), result.rowCounts(), b.baseline(), b.alarm(),
                    b.drops(), b.lastCheck(), rotation.retained(), b.lastDrillSuccess(), b.lastDrillResult());
        });
    }

    @Override
    public void failure(String target, BackstopException error, int consecutiveFailures) {
        counter(runs, target, "failure");
        facts.compute(target, (k, f) -> {
            TargetFacts b = f == null ? TargetFacts.initial() : f;
            return new TargetFacts(b.lastSuccess(), b.lastAttempt(), true, consecutiveFailures, error.getMessage(), false,
                    b.lastDurationSeconds(), b.lastSizeBytes(), b.tableRows(), b.baseline(), b.alarm(), b.drops(),
                    b.lastCheck(), b.retained(), b.lastDrillSuccess(), b.lastDrillResult());
        });
    }

    @Override
    public void checked(String target, Check.Result result) {
        if (!result.alarmRaised() || (incidents.containsKey(target) && result.alarm() != null
                && !incidents.get(target).alarmRaisedAt().equals(result.alarm().raisedAt()))) {
            incidents.remove(target); // that alarm is over
        }
        java.util.Set<String> pins = new java.util.LinkedHashSet<>(result.held());
        if (result.alarm() != null) {
            pins.addAll(result.alarm().pinned());
        }
        pinned(target, List.copyOf(pins));
        facts.compute(target, (k, f) -> {
            TargetFacts b = f == null ? TargetFacts.initial() : f;
            Map<String, Long> baseline = result.baseline() == null ? Map.of() : result.baseline().rowCounts();
            return new TargetFacts(b.lastSuccess(), b.lastAttempt(), b.lastAttemptFailed(), b.consecutiveFailures(),
                    b.lastError(), b.inProgress(), b.lastDurationSeconds(), b.lastSizeBytes(),
                    result.counts().isEmpty() ? b.tableRows() : result.counts(), baseline, result.alarmRaised(),
                    result.drops(), Instant.now(), b.retained(), b.lastDrillSuccess(), b.lastDrillResult());
        });
    }

    private final Map<String, String> drillDetails = new ConcurrentHashMap<>();

    /** What the last drill of {@code target} said (null before the first). */
    public String drillDetails(String target) {
        return drillDetails.get(target);
    }

    @Override
    public void drilled(String target, io.backstop.verify.Drill.Result result) {
        if (result.details() != null) {
            drillDetails.put(target, result.details());
        }
        if (result.ran()) {
            drillSeconds.put(target, result.duration().toNanos() / 1e9);
            if (result.restoredBytes() > 0) {
                drillBytes.put(target, (double) result.restoredBytes());
            }
        }
        facts.compute(target, (k, f) -> {
            TargetFacts b = f == null ? TargetFacts.initial() : f;
            return new TargetFacts(b.lastSuccess(), b.lastAttempt(), b.lastAttemptFailed(), b.consecutiveFailures(),
                    b.lastError(), b.inProgress(), b.lastDurationSeconds(), b.lastSizeBytes(), b.tableRows(), b.baseline(),
                    b.alarm(), b.drops(), b.lastCheck(), b.retained(),
                    result.passed() ? result.recorded().at() : b.lastDrillSuccess(),
                    !result.ran() ? DRILL_NOT_RUN : result.passed() ? 1 : 0);
        });
    }

    /** In a fleet: the node that ran each target's last backup. */
    private final Map<String, String> nodes = new ConcurrentHashMap<>();
    private volatile io.backstop.fleet.Fleet fleet;

    /** This node is part of {@code fleet}: /health, /metrics and the status page report its nodes. */
    public void fleet(io.backstop.fleet.Fleet fleet) {
        this.fleet = fleet;
    }

    public java.util.Optional<io.backstop.fleet.Fleet> fleet() {
        return java.util.Optional.ofNullable(fleet);
    }

    /** The node that ran {@code target}'s last backup; null outside a fleet (or before its first). */
    public String node(String target) {
        return nodes.get(target);
    }

    /**
     * A run of a job in the fleet, this node's own among them: who ran a target's last backup; and when another
     * node ran it ({@code elsewhere}), how it ended (what is on disk is read again separately).
     */
    public void ranInFleet(io.backstop.fleet.Fleet.Run run, boolean elsewhere) {
        if (!"backup".equals(run.kind())) {
            return;
        }
        nodes.put(run.target(), run.node());
        if (!elsewhere || run.ok() == null) {
            return;
        }
        boolean ok = run.ok();
        facts.compute(run.target(), (k, f) -> {
            TargetFacts b = f == null ? TargetFacts.initial() : f;
            return new TargetFacts(b.lastSuccess(), run.startedAt(), !ok, ok ? 0 : run.failures(),
                    ok ? null : run.error(), false, b.lastDurationSeconds(), b.lastSizeBytes(), b.tableRows(),
                    b.baseline(), b.alarm(), b.drops(), b.lastCheck(), b.retained(), b.lastDrillSuccess(),
                    b.lastDrillResult());
        });
    }

    private static void counter(Map<String, Map<String, AtomicLong>> map, String target, String key) {
        map.computeIfAbsent(target, k -> new ConcurrentHashMap<>()).computeIfAbsent(key, k -> new AtomicLong())
                .incrementAndGet();
    }

}
