package io.backstop.counts;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Manifests;
import io.backstop.catalog.ServerInfo;
import io.backstop.catalog.Tier;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Database;
import io.backstop.pg.SnapshotFacts;
import io.backstop.pg.Watched;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The data-loss alarm. Compares counts with the target's baseline (live between backups,
 * or a fresh backup's manifest) and keeps state.json in step: a drop raises the alarm and
 * pins the last verified backups taken before it; recovery or {@link #ack} clears it and
 * releases them. While the alarm is raised the baseline does not move.
 */
public final class Check {
    private static final Logger log = LoggerFactory.getLogger(Check.class);

    private final Settings settings;
    private final BackupLayout layout;
    private final Manifests manifests;
    private final StateStore states;
    private final LiveCounts live;
    private final Clock clock;

    public Check(Settings settings, BackupLayout layout, Manifests manifests, StateStore states, LiveCounts live,
            Clock clock) {
        this.settings = settings;
        this.layout = layout;
        this.manifests = manifests;
        this.states = states;
        this.live = live;
        this.clock = clock;
    }

    /** The outcome of one comparison. */
    public record Result(String target, TargetState.Baseline baseline, Map<String, Long> counts, List<Drop> drops,
            TargetState.Alarm alarm, boolean newlyRaised, boolean cleared, String method, List<String> held) {
        public boolean alarmRaised() {
            return alarm != null;
        }
    }

    /** Live counts against the baseline; raises or clears the alarm. */
    /** Whether the target's WAL is archived: the undo then starts just before the incident's commit. */
    private boolean pitrOn(String target) {
        return settings.target(target).map(t -> t.pitr().enabled()).orElse(false);
    }

    public Result run(Target target) {
        TargetState state = states.read(target.name());
        TargetState.Baseline baseline = state.baseline();
        DropDetector.Observation observed;
        String method;
        try {
            Map<String, Long> baselineCounts = baseline == null ? Map.of() : baseline.rowCounts();
            LiveCountsWithIdentity l = observe(target, baselineCounts, baseline == null ? Map.of() : baseline.watched());
            observed = l.observation();
            method = l.method();
        } catch (DatabaseMissing e) {
            observed = null;
            method = "database missing";
        }
        List<Drop> drops;
        Map<String, Long> counters = observed == null ? null : observed.updateCounters();
        if (observed == null) {
            List<String> names = backedUpNames(target);
            if (baseline == null || !names.contains(target.database())) {
                // Never seen under this name: a misspelled database is a configuration error, not an incident.
                throw new BackstopException(ExitCode.USAGE, "target " + target.name() + ": database \""
                        + target.database() + "\" does not exist on " + target.host() + ":" + target.port()
                        + " and no backup of target " + target.name() + " was ever taken of a database by that name"
                        + (names.isEmpty() ? "" : " (its backups are of " + names.stream().map(n -> "\"" + n + "\"")
                        .collect(java.util.stream.Collectors.joining(", ")) + ")")
                        + ": check the target's database (PGDATABASE). Nothing was raised or pinned");
            }
            drops = List.of(Drop.recreated("database \"" + target.database() + "\" does not exist",
                    baseline.rowCounts().values().stream().mapToLong(Long::longValue).sum(), null));
        } else {
            drops = new ArrayList<>(DropDetector.compare(baseline, observed, settings.rowCounts()));
            drops.addAll(DropDetector.massUpdates(state.updateCounters(), observed.updateCounters(),
                    observed.rowCounts(), settings.rowCounts()));
        }
        Map<String, Long> counts = observed == null ? Map.of() : observed.rowCounts();
        String how = method;
        return apply(target.name(), drops, counts, s -> (counters == null ? s : s.withUpdateCounters(counters))
                .withLastCheck(new TargetState.LastCheck(clock.instant(), counts, how)), null, how);
    }

    /** The databases this target's backups were taken of: the names it has existed under. */
    private List<String> backedUpNames(Target target) {
        return new io.backstop.catalog.Catalog(layout, manifests).list(target.name()).stream()
                .flatMap(e -> e.manifest().stream()).map(io.backstop.catalog.Manifest::database)
                .filter(java.util.Objects::nonNull).distinct().sorted().toList();
    }

    /** Fails (naming the file and the way out) when the target's state.json cannot be read. */
    public void requireReadableState(String target) {
        states.read(target);
    }

    /** After a verified backup: its counts become the baseline, unless they show a drop (then the alarm). */
    public Result afterBackup(String target, Manifest manifest) {
        TargetState state = states.read(target);
        DropDetector.Observation observed = new DropDetector.Observation(manifest.systemIdentifier(),
                manifest.databaseOid(), manifest.rowCounts(), manifest.facts().watched(), manifest.facts().updates(),
                manifest.facts().tableFiles());
        List<Drop> drops = new ArrayList<>(DropDetector.compare(state.baseline(), observed, settings.rowCounts()));
        drops.addAll(DropDetector.massUpdates(state.updateCounters(), observed.updateCounters(), observed.rowCounts(),
                settings.rowCounts()));
        TargetState.Baseline next = drops.isEmpty() ? new TargetState.Baseline(manifest.finishedAt(), manifest.sequence(),
                layout.root().relativize(layout.tierDir(target, manifest.tier()).resolve(manifest.file())).toString(),
                manifest.systemIdentifier(), manifest.databaseOid(), manifest.rowCounts(), manifest.facts().watched(),
                manifest.facts().tableFiles())
                : null;
        Map<String, Long> counters = observed.updateCounters();
        return apply(target, drops, manifest.rowCounts(), s -> counters.isEmpty() ? s : s.withUpdateCounters(counters),
                next, "backup " + manifest.file());
    }

    /** The operator says the drop was intended: current counts become the baseline, pins are released. */
    public Result ack(Target target) {
        TargetState current = states.read(target.name());
        LiveCountsWithIdentity l;
        try {
            l = observe(target, current.baseline() == null ? Map.of() : current.baseline().rowCounts(),
                    current.baseline() == null ? Map.of() : current.baseline().watched());
        } catch (DatabaseMissing e) {
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "target " + target.name() + ": database \""
                    + target.database() + "\" does not exist; create it (or restore it) before acknowledging", e);
        }
        DropDetector.Observation o = l.observation();
        long sequence = new Catalog(layout, manifests).list(target.name()).stream().flatMap(e -> e.manifest().stream())
                .mapToLong(Manifest::sequence).max().orElse(0);
        TargetState.Baseline baseline = new TargetState.Baseline(clock.instant(), sequence, null, o.systemIdentifier(),
                o.databaseOid(), o.rowCounts(), o.watched(), o.tableFiles());
        AtomicReference<TargetState> beforeRef = new AtomicReference<>();
        TargetState after = states.update(target.name(), s -> {
            beforeRef.set(s);
            return s.withBaseline(baseline).withAlarm(null).withHeld(List.of()).withUpdateCounters(o.updateCounters());
        });
        TargetState before = beforeRef.get();
        List<String> released = before.allPinned();
        release(released);
        if (before.alarm() != null) {
            log.info("data-loss alarm of target {} acknowledged: {} tables, {} rows are the new baseline; {} pinned backups"
                    + " released", target.name(), o.rowCounts().size(), total(o.rowCounts()), released.size());
        } else if (!released.isEmpty()) {
            log.info("target {}: acknowledged; {} backups pinned by an earlier alarm released", target.name(),
                    released.size());
        }
        return new Result(target.name(), after.baseline(), o.rowCounts(), List.of(), null, false,
                before.alarm() != null || !released.isEmpty(), l.method(), List.of());
    }

    /**
     * After a restore into the target's own database: the restored database is new (new OID,
     * perhaps a new cluster), so its identity becomes the baseline's. The counts stay: the next
     * check compares the restored rows with them.
     */
    public void adoptIdentity(Target target) {
        try (Connection c = new Database(target).connect()) {
            ServerInfo info = ServerInfo.read(c);
            if (!states.readable(target.name())) {
                return; // a damaged state.json has no baseline to adopt; the restore itself stands
            }
            states.update(target.name(), s -> s.baseline() == null ? s : s.withBaseline(new TargetState.Baseline(
                    s.baseline().takenAt(), s.baseline().sequence(), s.baseline().file(), info.systemIdentifier(),
                    info.databaseOid(), s.baseline().rowCounts(), s.baseline().watched(), Map.of())));
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "cannot read the restored database's identity: "
                    + e.getMessage(), e);
        }
    }

    /**
     * Records a comparison in state.json. Whether it raises or clears the alarm is decided on the
     * state read under the state lock, so a daemon check and a CLI check never both raise (and
     * pin) the same drop.
     */
    private Result apply(String target, List<Drop> found, Map<String, Long> counts,
            java.util.function.UnaryOperator<TargetState> record, TargetState.Baseline nextBaseline, String method) {
        AtomicReference<TargetState> before = new AtomicReference<>();
        AtomicReference<List<Drop>> seen = new AtomicReference<>();
        TargetState after = states.update(target, s -> {
            before.set(s);
            List<Drop> drops = carried(s, found);
            seen.set(drops);
            TargetState r = record.apply(s);
            if (drops.isEmpty()) {
                // Counts at (or above) the baseline: no alarm; a backup's counts become the new baseline. The
                // alarm's pins are held until ack: what the playbook prints (restore pinned) still works.
                r = r.withAlarm(null).withHeld(s.allPinned());
                return nextBaseline == null ? r : r.withBaseline(nextBaseline);
            }
            TargetState.Alarm raised = s.alarm() != null
                    ? new TargetState.Alarm(s.alarm().raisedAt(), drops, s.alarm().pinned())
                    : new TargetState.Alarm(clock.instant(), drops, pin(target, s.baseline(), drops));
            return r.withAlarm(raised);
        });
        List<Drop> drops = seen.get();
        boolean raise = !drops.isEmpty() && before.get().alarm() == null;
        boolean clear = drops.isEmpty() && before.get().alarm() != null;
        if (raise) {
            List<String> pinned = after.alarm().pinned();
            log.warn("DATA LOSS on target {} ({}): {}. The data is in {} (pinned until `backstop ack --target {}` or the"
                    + " counts recover). {}, or acknowledge if the change was intended.", target, method,
                    drops.stream().map(Drop::describe).collect(Collectors.joining("; ")),
                    pinned.isEmpty() ? "no backup (none was taken before the drop)" : String.join(", ", pinned), target,
                    Drop.recoverCommand(target, drops, pitrOn(target))
                            .map(cmd -> "Put back the lost rows with `" + cmd + " --apply`")
                            .orElse("Restore from it"));
        } else if (clear) {
            log.info("data-loss alarm of target {} cleared: counts are back at the baseline; the pinned backups {} stay"
                    + " pinned until `backstop ack --target {}`", target, String.join(", ", after.held()), target);
        }
        return new Result(target, after.baseline(), counts, drops, after.alarm(), raise, clear, method, after.held());
    }

    /**
     * The drops found now, and the mass updates the raised alarm already holds: an update leaves the counts
     * as they were, so nothing but {@code recover --changed} of the table or {@code ack} ends it.
     */
    private static List<Drop> carried(TargetState s, List<Drop> found) {
        if (s.alarm() == null) {
            return found;
        }
        List<Drop> all = new ArrayList<>(found);
        for (Drop d : s.alarm().drops()) {
            if (d.kind() == Drop.Kind.UPDATED && all.stream().noneMatch(x -> x.kind() == Drop.Kind.UPDATED
                    && x.table().equals(d.table()))) {
                all.add(d);
            }
        }
        return all;
    }

    /**
     * After recover wrote {@code tables} in transaction {@code xid}: their update counters start afresh (the
     * apply's own updates are no incident), its xid is kept (its rows are the backup's), and with {@code
     * changed} the mass updates the alarm holds for them are undone. The next
     * comparison (run by the caller) clears the alarm if nothing else is left.
     */
    public void recovered(String target, java.util.Collection<String> tables, boolean changed, long xid) {
        if (!states.readable(target)) {
            return; // a damaged state.json keeps nothing; the apply itself stands
        }
        states.update(target, s -> {
            // recover's own writes are no mass update: the next observation starts these tables' counters afresh
            Map<String, Long> counters = new java.util.TreeMap<>(s.updateCounters());
            counters.keySet().removeAll(tables);
            // its rows are the backup's rows: a later comparison counts them as there, not written since
            TargetState r = s.withUpdateCounters(counters).withRecoveredXid(xid);
            if (!changed || s.alarm() == null) {
                return r;
            }
            return r.withAlarm(new TargetState.Alarm(s.alarm().raisedAt(), s.alarm().drops().stream()
                    .filter(d -> d.kind() != Drop.Kind.UPDATED || !tables.contains(d.table())).toList(),
                    s.alarm().pinned()));
        });
    }

    /** Pins the newest verified backup of each tier taken no later than the baseline's. */
    private List<String> pin(String target, TargetState.Baseline baseline, List<Drop> drops) {
        if (baseline == null) {
            return List.of();
        }
        String reason = "data-loss alarm: " + drops.get(0).describe() + (drops.size() > 1 ? " (+" + (drops.size() - 1)
                + " more)" : "");
        List<String> pinned = new ArrayList<>();
        List<Catalog.Entry> entries = new Catalog(layout, manifests).list(target);
        for (Tier tier : Tier.values()) {
            Optional<Catalog.Entry> newest = entries.stream()
                    .filter(e -> e.tier() == tier && tier.regular() && e.verified()
                            && e.manifest().get().sequence() <= baseline.sequence())
                    .max(java.util.Comparator.comparingLong(e -> e.manifest().get().sequence()));
            newest.ifPresent(e -> {
                manifests.write(e.file(), e.manifest().get().withPin(true, reason));
                pinned.add(layout.root().relativize(e.file()).toString());
            });
        }
        return pinned;
    }

    private void release(List<String> pinned) {
        for (String relative : pinned) {
            Path file = layout.root().resolve(relative);
            if (Files.exists(file)) {
                try {
                    manifests.write(file, manifests.read(file).withPin(false, null));
                } catch (BackstopException e) {
                    log.warn("cannot release pin of {}: {}", file, e.getMessage());
                }
            }
        }
    }

    private record LiveCountsWithIdentity(DropDetector.Observation observation, String method) {
    }

    private static final class DatabaseMissing extends Exception {
        private static final long serialVersionUID = 1L;

        DatabaseMissing(Throwable cause) {
            super(cause);
        }
    }

    private LiveCountsWithIdentity observe(Target target, Map<String, Long> baseline, Map<String, Long> watchedBaseline)
            throws DatabaseMissing {
        Database db = new Database(target);
        try (Connection c = db.connect()) {
            ServerInfo info = ServerInfo.read(c);
            c.setAutoCommit(false);
            c.setReadOnly(true);
            LiveCounts.Result r = live.count(c, baseline, settings.rowCounts(), Duration.ofMinutes(10));
            Map<String, Long> watched = new Watched(settings.rowCounts()).count(c, watchedBaseline);
            Map<String, Long> counters = Watched.updateCounters(c, r.counts().keySet());
            Map<String, String> files = SnapshotFacts.tableFiles(c, r.counts().keySet());
            c.commit();
            return new LiveCountsWithIdentity(new DropDetector.Observation(info.systemIdentifier(), info.databaseOid(),
                    r.counts(), watched, counters, files), r.exact() + " exact, " + r.estimated() + " estimated");
        } catch (Database.MissingDatabase e) {
            throw new DatabaseMissing(e);
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "row-count check of target " + target.name()
                    + " failed: " + e.getMessage(), e);
        }
    }

    private static long total(Map<String, Long> counts) {
        return counts.values().stream().mapToLong(Long::longValue).sum();
    }
}
