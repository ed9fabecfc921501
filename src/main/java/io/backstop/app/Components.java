package io.backstop.app;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.backup.Backup;
import io.backstop.backup.BackupCycle;
import io.backstop.catalog.Archive;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifests;
import io.backstop.config.Settings;
import io.backstop.config.SettingsLoader;
import io.backstop.counts.Check;
import io.backstop.counts.LiveCounts;
import io.backstop.counts.StateStore;
import io.backstop.http.Health;
import io.backstop.http.HealthSeed;
import io.backstop.http.HealthState;
import io.backstop.http.HttpApi;
import io.backstop.http.Metrics;
import io.backstop.offsite.Offsite;
import io.backstop.pg.PgTools;
import io.backstop.pg.RowCounter;
import io.backstop.recover.Recover;
import io.backstop.restore.Restore;
import io.backstop.retention.Prune;
import io.backstop.schedule.Daemon;
import io.backstop.schedule.OffsiteProcess;
import io.backstop.schedule.Reporter;
import io.backstop.verify.Drill;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The one place Backstop's parts are wired together, by hand, each getting its collaborators through its
 * constructor: once per run, after the settings are valid, and handed to the command that runs. Each part is
 * built the first time the command asks for it and kept for the rest of the run.
 * Nothing here is static and nothing here decides anything: the parts do.
 */
public final class Components {
    private final Invocation invocation;
    private final Optional<Path> configFile;
    private final Settings settings;
    private final BackupLayout layout;
    private final String version;
    // Each verb's part is built the first time it is asked for, and then kept: a command that only lists, or a
    // guard that only reads the newest backup's age, loads none of the classes of the verbs it does not run
    // (building every part at once cost a JVM-per-call guard 70 ms, bench/guard.sh: Jackson's start among them).
    private Manifests manifests;
    private Catalog catalog;
    private StateStore states;
    private PgTools tools;
    private Backup backup;
    private Check check;
    private Prune prune;
    private BackupCycle cycle;
    private Optional<Offsite> offsite;
    private Restore restore;
    private Recover recover;
    private Drill drill;
    private Optional<io.backstop.fleet.Fleet> fleet;
    /** How backups are read: encrypted ones with the identity this run was given. */
    private final Archive reader;

    private Components(Invocation invocation, Optional<Path> configFile, Settings settings, Archive reader,
            String version) {
        this.reader = reader;
        this.invocation = invocation;
        this.configFile = configFile;
        this.settings = settings;
        this.version = version;
        this.layout = new BackupLayout(settings.backupDir());
    }

    /**
     * Reads and validates the settings ({@code configFile}, else where {@link SettingsLoader#locate} finds them),
     * then builds every part. Encrypted local backups are read with {@code identity}, else the environment's.
     */
    public static Components load(Invocation invocation, Optional<Path> configFile, Optional<Path> identity,
            String version) {
        SettingsLoader loader = new SettingsLoader(invocation.env());
        Settings settings = loader.load(loader.locate(configFile));
        Components components = new Components(invocation, configFile, settings,
                new Archive(identity.or(invocation::identityFile)), version);
        // In a fleet every lock this run takes is held in the fleet's database too, and its temporary files name
        // the node: whether a daemon, a backup from the command line or a prune.
        components.fleet().ifPresent(io.backstop.fleet.Fleet::join);
        components.discover(); // a databases family's targets, as of now
        return components;
    }

    /** Adds the databases each {@code databases} family has now (and had before) as targets; returns those added. */
    public java.util.List<Settings.Target> discover() {
        java.util.List<Settings.Target> added = new java.util.ArrayList<>();
        if (settings.families().isEmpty()) {
            return added; // (nor the catalog and its JSON reader started for nothing: a command's JVM is short)
        }
        io.backstop.backup.Discovery discovery = new io.backstop.backup.Discovery(settings.backupDir(), catalog());
        for (Settings.Family family : settings.families()) {
            for (Settings.Target t : discovery.targets(family)) {
                if (settings.liveTargets().add(t)) {
                    added.add(t);
                }
            }
        }
        return added;
    }

    public Invocation invocation() {
        return invocation;
    }

    public Map<String, String> env() {
        return invocation.env();
    }

    public Clock clock() {
        return invocation.clock();
    }

    public Settings settings() {
        return settings;
    }

    public synchronized Manifests manifests() {
        if (manifests == null) {
            manifests = new Manifests();
        }
        return manifests;
    }

    public synchronized PgTools tools() {
        if (tools == null) {
            tools = PgTools.locate(settings.pgDump().binDir());
        }
        return tools;
    }

    public BackupLayout layout() {
        return layout;
    }

    public synchronized Catalog catalog() {
        if (catalog == null) {
            catalog = new Catalog(layout, manifests());
        }
        return catalog;
    }

    public synchronized StateStore states() {
        if (states == null) {
            states = new StateStore(layout, manifests().json());
        }
        return states;
    }

    public synchronized Backup backup() {
        if (backup == null) {
            backup = new Backup(settings, layout, tools(), manifests(), new RowCounter(), clock());
        }
        return backup;
    }

    public synchronized Check check() {
        if (check == null) {
            check = new Check(settings, layout, manifests(), states(), new LiveCounts(new RowCounter()), clock());
        }
        return check;
    }

    public synchronized Prune prune() {
        if (prune == null) {
            prune = new Prune(settings, layout, manifests());
        }
        return prune;
    }

    public synchronized BackupCycle cycle() {
        if (cycle == null) {
            cycle = new BackupCycle(backup(), check(), prune(), layout, manifests());
        }
        return cycle;
    }

    /** Offsite copies when {@code offsite.url} is set: one store client per run, started when first used. */
    public synchronized Optional<Offsite> offsite() {
        if (offsite == null) {
            offsite = settings.offsite().map(o -> new Offsite(o, settings.encryption(), layout, catalog(), clock()));
        }
        return offsite;
    }

    /** The WAL archive's and base backups' offsite copies (empty without an offsite store). */
    public Optional<io.backstop.pitr.WalOffsite> walOffsite() {
        return settings.offsite().map(o -> new io.backstop.pitr.WalOffsite(o, settings.encryption(), layout,
                manifests().json(), clock()));
    }

    public synchronized Restore restore() {
        if (restore == null) {
            restore = new Restore(backup(), check(), tools(), settings.pgDump().timeout(), reader);
        }
        return restore;
    }

    /** A target's state at a point of its PITR window, for restore and recover. */
    public io.backstop.recover.PointInTime pointInTime() {
        return new io.backstop.recover.PointInTime(settings, this::backup, tools(), manifests());
    }

    public synchronized Recover recover() {
        if (recover == null) {
            recover = new Recover(settings, backup(), tools(), reader);
        }
        return recover;
    }

    public synchronized Drill drill() {
        if (drill == null) {
            drill = new Drill(settings, tools(), manifests(), clock(), reader);
        }
        return drill;
    }

    public Daemon daemon() {
        return daemon(Reporter.NONE);
    }

    /** The scheduled jobs, reporting to {@code reporter}; offsite syncs run in child JVMs with this run's environment. */
    public Daemon daemon(Reporter reporter) {
        return new Daemon(settings, backup(), check(), prune(), drill(), layout, catalog(), offsite(),
                offsite().map(o -> new OffsiteProcess(invocation.env(), configFile, settings.pgDump().timeout(),
                        manifests().json())), walOffsite(), pitr(reporter), reporter, invocation.clock(), pointInTime(),
                states(), this::discover);
    }

    /** WAL streaming and base backups of the targets with PITR on, reporting to {@code listener}. */
    public io.backstop.pitr.Pitr pitr(io.backstop.pitr.Pitr.Listener listener) {
        io.backstop.pitr.Pitr pitr = new io.backstop.pitr.Pitr(settings.targets(), layout, tools(), manifests().json(),
                invocation.clock(), listener);
        // In a fleet one node streams each target's WAL over its one slot (and takes its base backups); should
        // that node die, the next to claim the target resumes from the slot.
        fleet().ifPresent(f -> pitr.streamOnlyWhen(target -> f.claim("wal:" + target)));
        return pitr;
    }

    /** This node's part in a fleet ({@code cluster.enabled}); empty for a sidecar. Connects when first used. */
    public synchronized Optional<io.backstop.fleet.Fleet> fleet() {
        if (fleet == null) {
            fleet = settings.cluster().map(c -> new io.backstop.fleet.Fleet(c, version, clock()));
        }
        return fleet;
    }

    /**
     * In a fleet: {@code state} reports every node's runs, and a target another node ran is read again from the
     * shared backup directory; {@code then} runs after each batch (the notifier reads the news).
     */
    public void followFleet(HealthState state, Runnable then) {
        fleet().ifPresent(f -> {
            state.fleet(f);
            f.start(runs -> {
                java.util.Set<String> reread = new java.util.LinkedHashSet<>();
                for (io.backstop.fleet.Fleet.Run run : runs) {
                    boolean elsewhere = !run.node().equals(f.node());
                    state.ranInFleet(run, elsewhere);
                    if (elsewhere && run.finishedAt() != null) {
                        reread.add(run.target());
                    }
                }
                for (String name : reread) {
                    settings.target(name).ifPresent(t -> HealthSeed.seed(state, t, catalog(), states(), prune(),
                            offsite()));
                }
                then.run();
            });
        });
    }

    /** What /health and /metrics know before the daemon's first event: what is on disk. */
    public void seed(HealthState state) {
        HealthSeed.seed(state, settings, catalog(), states(), prune(), offsite());
    }

    /**
     * The HTTP surface over {@code state}, which the daemon's jobs keep current; a backup it takes is followed
     * by what follows a scheduled one ({@link Daemon#afterBackup}).
     */
    public HttpApi http(HealthState state, Daemon daemon) {
        return http(state, state, daemon);
    }

    /** As {@link #http(HealthState, Daemon)}; a backup asked for over HTTP reports to {@code reporter}. */
    public HttpApi http(HealthState state, Reporter reporter, Daemon daemon) {
        return new HttpApi(settings, new Health(settings, state, invocation.clock()),
                new Metrics(settings, state, version), cycle(), reporter, state, invocation.clock(), manifests().json(),
                daemon::afterBackup);
    }

    /** The notification channels and heartbeat, reading {@code state} (not started). */
    public io.backstop.notify.Notifier notifier(HealthState state) {
        return io.backstop.notify.Notifier.of(settings, state, invocation.clock());
    }

    /** The targets a command acts on: the named one (an error naming the known ones if absent), else all. */
    public List<Settings.Target> targets(Optional<String> name) {
        if (name.isEmpty()) {
            return settings.targets();
        }
        return List.of(settings.target(name.get()).orElseThrow(() -> new BackstopException(ExitCode.USAGE,
                "--target " + name.get() + ": no such target; configured: "
                        + String.join(", ", settings.targets().stream().map(Settings.Target::name).toList()))));
    }
}
