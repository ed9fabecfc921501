package io.backstop.http;

import io.backstop.catalog.Tier;
import io.backstop.config.Settings;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToDoubleFunction;

/**
 * The Prometheus side of Backstop: every series DESIGN.md lists, read from {@link HealthState}
 * at scrape time, plus JVM and process metrics. Names carry the backstop_ prefix and base
 * units; each instance owns its registry (tests build their own).
 */
public final class Metrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final HealthState state;
    private final Settings settings;
    /** One gauge per (metric, target, table), updated in place; only tables that come or go touch the registry. */
    private final Map<List<String>, AtomicLong> tableValues = new HashMap<>();
    private final Map<List<String>, Meter> tableMeters = new HashMap<>();

    public Metrics(Settings settings, HealthState state, String version) {
        this.settings = settings;
        this.state = state;
        new JvmMemoryMetrics().bindTo(registry);
        new JvmGcMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);

        Gauge.builder("backstop.build.info", () -> 1).tag("version", version)
                .description("Backstop's version; always 1").register(registry);
        Gauge.builder("backstop.backup.dir.free", this::freeBytes).baseUnit("bytes")
                .description("Free bytes in the backup directory's file system").register(registry);
        Gauge.builder("backstop.backup.stale.after", () -> settings.staleAfter().toSeconds()).baseUnit("seconds")
                .description("Configured stale-after: the age at which /health reports STALE").register(registry);
        Gauge.builder("backstop.restore.drill.rto.target", () -> settings.restoreDrill().rtoTarget().toSeconds())
                .baseUnit("seconds").description("Configured restore-drill.rto-target: the drill time that alerts")
                .register(registry);
        settings.offsite().ifPresent(o -> Gauge.builder("backstop.offsite.max.lag", () -> o.maxLag().toSeconds())
                .baseUnit("seconds").description("Configured offsite.max-lag: the wait at which /health reports OFFSITE_STALE")
                .register(registry));
        List<String> channels = new java.util.ArrayList<>(settings.notifications().channels().stream()
                .map(Settings.Channel::name).toList());
        if (settings.notifications().heartbeat().isPresent()) {
            channels.add("heartbeat");
        }
        for (String channel : channels) {
            FunctionCounter.builder("backstop.notify.failures", state, s -> notifyFacts(s, channel).failures())
                    .tag("channel", channel).description("Notification attempts that failed (each is retried)")
                    .register(registry);
            FunctionCounter.builder("backstop.notify.sent", state, s -> notifyFacts(s, channel).delivered())
                    .tag("channel", channel).description("Notifications delivered").register(registry);
            FunctionCounter.builder("backstop.notify.dropped", state, s -> notifyFacts(s, channel).dropped())
                    .tag("channel", channel).description("Notifications given up on (queue full, or undeliverable too long)")
                    .register(registry);
        }
        for (Settings.Target t : settings.targets()) {
            registerTarget(t);
        }
        settings.liveTargets().onAdd(this::registerTarget); // a databases family's new database
    }

    /** One target's series. */
    private synchronized void registerTarget(Settings.Target t) {
        String name = t.name();
        timestampGauge("backstop.backup.last.success.timestamp", name, f -> epoch(f.lastSuccess()),
                "When the newest verified backup finished (0: none yet)");
        timestampGauge("backstop.backup.last.attempt.timestamp", name, f -> epoch(f.lastAttempt()),
                "When the last backup attempt started (0: none yet)");
        if (settings.offsite().isPresent()) {
            Gauge.builder("backstop.offsite.last.success.timestamp", state, s -> epoch(s.offsite(name).lastSuccess()))
                    .baseUnit("seconds").tag("target", name)
                    .description("When an offsite sync last succeeded: every verified backup copied and read back"
                            + " (0: none yet)").register(registry);
            Gauge.builder("backstop.offsite.lag", state, s -> s.offsiteLagSeconds(name, Instant.now()))
                    .baseUnit("seconds").tag("target", name)
                    .description("How long the newest verified local backup without an offsite copy has waited"
                            + " (0: none waits)").register(registry);
            FunctionCounter.builder("backstop.offsite.uploaded", state, s -> s.offsite(name).uploadedBytes())
                    .baseUnit("bytes").tag("target", name)
                    .description("Bytes uploaded offsite by this process and verified").register(registry);
            FunctionCounter.builder("backstop.offsite.failures", state, s -> s.offsite(name).failures())
                    .tag("target", name).description("Offsite syncs that failed (each is retried)")
                    .register(registry);
        }
        gauge("backstop.backup.last.duration", name, "seconds", HealthState.TargetFacts::lastDurationSeconds,
                "Duration of the last verified backup");
        gauge("backstop.backup.last.size", name, "bytes", f -> f.lastSizeBytes(), "Size of the last verified backup");
        gauge("backstop.backup.in.progress", name, null, f -> f.inProgress() ? 1 : 0, "1 while a backup runs");
        gauge("backstop.data.loss.alarm", name, null, f -> f.alarm() ? 1 : 0, "1 while a data-loss alarm is raised");
        timestampGauge("backstop.rowcount.last.check.timestamp", name, f -> epoch(f.lastCheck()),
                "When live row counts were last compared with the baseline");
        timestampGauge("backstop.restore.drill.last.success.timestamp", name, f -> epoch(f.lastDrillSuccess()),
                "When the last restore drill passed (0: none yet)");
        Gauge.builder("backstop.backups.damaged", state, s -> s.damaged(name))
                .tag("target", name).description("Backups whose file no longer matches its manifest (size, time or"
                        + " sha256): not counted by retention, not restorable").register(registry);
        gauge("backstop.restore.drill.last.result", name, null,
                f -> f.lastDrillResult() == null ? -1 : f.lastDrillResult(),
                "Last restore drill: 1 passed, 0 failed, -1 none yet, -2 could not run");
        Gauge.builder("backstop.restore.drill.last.duration", state, s -> s.drillSeconds(name)).baseUnit("seconds")
                .tag("target", name).description("How long the last restore drill took: the restore time to expect")
                .register(registry);
        Gauge.builder("backstop.restore.drill.restored.size", state, s -> s.drillRestoredBytes(name)).baseUnit("bytes")
                .tag("target", name).description("Size of the database the last drill restored").register(registry);
        if (t.pitr().enabled()) {
            pitrGauges(t);
        }
        for (String result : List.of("success", "failure")) {
            FunctionCounter.builder("backstop.backup.runs", state, s -> s.runs(name, result))
                    .tags("target", name, "result", result).description("Backup attempts by result").register(registry);
        }
        for (Tier tier : Tier.values()) {
            FunctionCounter.builder("backstop.retention.deleted", state, s -> s.deleted(name, tier))
                    .tags("target", name, "tier", tier.dir()).description("Backups deleted by retention")
                    .register(registry);
            Gauge.builder("backstop.backups.retained", state, s -> s.get(name).retained().getOrDefault(tier, 0))
                    .tags("target", name, "tier", tier.dir()).description("Verified backups kept per tier")
                    .register(registry);
        }
    }

    /** WAL streaming, base backups and the recoverable window of a target with PITR on. */
    private void pitrGauges(Settings.Target t) {
        String name = t.name();
        pitrGauge("backstop.wal.last.received.timestamp", t, "seconds", p -> epoch(p.lastReceivedAt()),
                "When the WAL archive last held everything the server had written, or received more (0: never)");
        pitrGauge("backstop.wal.receive.lag", t, "bytes", p -> p.receiveLagBytes(),
                "WAL the server has written and the archive has not yet flushed");
        pitrGauge("backstop.wal.slot.retained", t, "bytes", p -> p.slotRetainedBytes(),
                "WAL the replication slot holds back on the database server's disk");
        pitrGauge("backstop.wal.streaming", t, null, p -> p.streaming() ? 1 : 0,
                "1 while pg_receivewal streams (the server holds the slot for it)");
        pitrGauge("backstop.wal.archive.size", t, "bytes", p -> p.window().archiveBytes(),
                "Bytes of WAL kept in the archive");
        pitrGauge("backstop.basebackup.last.success.timestamp", t, "seconds", p -> epoch(p.lastBaseBackup()),
                "When the newest verified base backup finished (0: none)");
        pitrGauge("backstop.pitr.window.start.timestamp", t, "seconds", p -> epoch(p.window().from()),
                "The earliest moment the target can be recovered to with an unbroken archive up to now (0: none)");
        pitrGauge("backstop.pitr.gaps", t, null, p -> p.window().gaps().size(),
                "Holes in the kept WAL archive and recorded gaps (lost slot, WAL removed before it arrived)");
        Gauge.builder("backstop.pitr.drill.last.result", state, s -> {
            io.backstop.verify.PitrDrill.Result r = s.pitrDrill(name);
            return r == null ? -1 : !r.ran() ? -2 : r.passed() ? 1 : 0;
        }).tag("target", name).description("Last PITR drill (base backup + WAL replayed to a dump's snapshot):"
                + " 1 passed, 0 failed, -1 none yet, -2 could not run").register(registry);
        Gauge.builder("backstop.pitr.drill.last.duration", state, s -> {
            io.backstop.verify.PitrDrill.Result r = s.pitrDrill(name);
            return r == null ? 0 : r.duration().toNanos() / 1e9;
        }).baseUnit("seconds").tag("target", name).description("How long the last PITR drill took").register(registry);
        Gauge.builder("backstop.wal.slot.alert", () -> t.pitr().slotAlertBytes()).baseUnit("bytes").tag("target", name)
                .description("Configured pitr.slot-alert: retained WAL at which the alert fires").register(registry);
        Gauge.builder("backstop.pitr.max.lag", () -> t.pitr().maxLag().toSeconds()).baseUnit("seconds")
                .tag("target", name).description("Configured pitr.max-lag: the wait at which /health says WAL_STALE")
                .register(registry);
    }

    private void pitrGauge(String metric, Settings.Target t, String unit,
            java.util.function.ToDoubleFunction<io.backstop.pitr.Pitr.Status> value, String description) {
        Gauge.Builder<HealthState> b = Gauge.builder(metric, state, s -> {
            io.backstop.pitr.Pitr.Status p = s.pitr(t.name());
            return p == null ? 0 : value.applyAsDouble(p);
        }).tag("target", t.name()).description(description);
        if (unit != null) {
            b.baseUnit(unit);
        }
        b.register(registry);
    }

    /** The Prometheus text exposition; brings the per-table series up to date first. */
    public synchronized String scrape() {
        state.fleet().ifPresent(this::fleet);
        Set<List<String>> seen = new HashSet<>();
        for (Settings.Target t : settings.targets()) {
            HealthState.TargetFacts f = state.get(t.name());
            update("backstop.table.rows", "Rows per counted table at the last count", t.name(), f.tableRows(), seen);
            update("backstop.table.rows.baseline", "Rows per counted table in the baseline", t.name(), f.baseline(), seen);
        }
        for (var it = tableMeters.entrySet().iterator(); it.hasNext();) {
            var e = it.next();
            if (!seen.contains(e.getKey())) {
                registry.remove(e.getValue());
                tableValues.remove(e.getKey());
                it.remove();
            }
        }
        return registry.scrape();
    }

    /** The fleet's series per node: one pair per node this node sees (those that left cleanly are removed). */
    private final Map<String, List<Meter>> nodeMeters = new HashMap<>();
    private boolean fleetRegistered;

    private void fleet(io.backstop.fleet.Fleet fleet) {
        if (!fleetRegistered) {
            fleetRegistered = true;
            Gauge.builder("backstop.fleet.clock.drift", fleet, io.backstop.fleet.Fleet::driftSeconds).baseUnit("seconds")
                    .description("How far this node's clock is ahead of the fleet database's (negative: behind)")
                    .register(registry);
            Gauge.builder("backstop.fleet.speaker", fleet, f -> f.speaks() ? 1 : 0)
                    .description("1 while this node sends the fleet's notifications").register(registry);
        }
        Set<String> names = new HashSet<>();
        for (io.backstop.fleet.Fleet.Node n : fleet.nodes()) {
            String name = n.name();
            names.add(name);
            nodeMeters.computeIfAbsent(name, k -> List.of(
                    Gauge.builder("backstop.fleet.node.up", fleet, f -> node(f, name).map(x -> x.up() ? 1 : 0).orElse(0))
                            .tag("node", name).description("1 while the node checks in to the fleet's database")
                            .register(registry),
                    Gauge.builder("backstop.fleet.node.last.seen.timestamp", fleet,
                            f -> node(f, name).map(x -> x.lastSeen().toEpochMilli() / 1000.0).orElse(0.0))
                            .baseUnit("seconds").tag("node", name)
                            .description("When the node last checked in, by the fleet database's clock")
                            .register(registry)));
        }
        for (var it = nodeMeters.entrySet().iterator(); it.hasNext();) {
            var e = it.next();
            if (!names.contains(e.getKey())) {
                e.getValue().forEach(registry::remove);
                it.remove();
            }
        }
    }

    private static java.util.Optional<io.backstop.fleet.Fleet.Node> node(io.backstop.fleet.Fleet fleet, String name) {
        return fleet.nodes().stream().filter(n -> n.name().equals(name)).findFirst();
    }

    private void update(String metric, String description, String target, Map<String, Long> counts,
            Set<List<String>> seen) {
        for (Map.Entry<String, Long> e : counts.entrySet()) {
            List<String> key = List.of(metric, target, e.getKey());
            seen.add(key);
            AtomicLong value = tableValues.get(key);
            if (value == null) {
                value = new AtomicLong();
                tableValues.put(key, value);
                tableMeters.put(key, Gauge.builder(metric, value, AtomicLong::get).description(description)
                        .tags("target", target, "table", e.getKey()).register(registry));
            }
            value.set(e.getValue());
        }
    }

    public String contentType() {
        return "text/plain; version=0.0.4; charset=utf-8";
    }

    private void gauge(String metric, String target, String unit, ToDoubleFunction<HealthState.TargetFacts> value,
            String description) {
        Gauge.Builder<HealthState> b = Gauge.builder(metric, state, s -> value.applyAsDouble(s.get(target)))
                .tag("target", target).description(description);
        if (unit != null) {
            b.baseUnit(unit);
        }
        b.register(registry);
    }

    private void timestampGauge(String metric, String target, ToDoubleFunction<HealthState.TargetFacts> value,
            String description) {
        gauge(metric, target, "seconds", value, description);
    }

    private static double epoch(Instant i) {
        return i == null ? 0 : i.toEpochMilli() / 1000.0;
    }

    private static HealthState.NotifyFacts notifyFacts(HealthState s, String channel) {
        HealthState.NotifyFacts f = s.notification(channel);
        return f == null ? new HealthState.NotifyFacts(channel, "", 0, 0, 0, null, null, null) : f;
    }

    private double freeBytes() {
        try {
            Path dir = settings.backupDir();
            FileStore store = Files.getFileStore(Files.exists(dir) ? dir : dir.getParent() == null ? dir : dir.getParent());
            return store.getUsableSpace();
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }
}
