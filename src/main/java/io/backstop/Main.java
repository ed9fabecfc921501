package io.backstop;

import io.backstop.backup.Backup;
import io.backstop.backup.BackupLayout;
import io.backstop.backup.Catalog;
import io.backstop.backup.Manifest;
import io.backstop.backup.Manifests;
import io.backstop.cli.BackstopCommand;
import io.backstop.cli.VersionProvider;
import io.backstop.config.Settings;
import io.backstop.config.SettingsLoader;
import io.backstop.counts.Check;
import io.backstop.counts.LiveCounts;
import io.backstop.counts.RowCounter;
import io.backstop.counts.StateStore;
import io.backstop.counts.TargetState;
import io.backstop.http.Health;
import io.backstop.http.HealthState;
import io.backstop.http.HttpApi;
import io.backstop.http.Metrics;
import io.backstop.pg.PgTools;
import io.backstop.restore.Drill;
import io.backstop.restore.Restore;
import io.backstop.retention.Rotation;
import io.backstop.schedule.BackupCycle;
import io.backstop.schedule.Daemon;
import io.backstop.schedule.Reporter;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine;

/**
 * Entry point and the one place where Backstop's parts are wired together, by hand: each part
 * gets its collaborators through its constructor. Commands ask for what they need; settings
 * are loaded (and validated) the first time one does.
 */
public final class Main {
    private final Map<String, String> env;
    private final Clock clock;
    private Optional<Path> configFile = Optional.empty();
    private Settings settings;
    private Manifests manifests;
    private PgTools tools;
    private java.io.InputStream stdin = System.in;

    public Main(Map<String, String> env, Clock clock) {
        this.env = Map.copyOf(env);
        this.clock = clock;
    }

    public static void main(String[] args) {
        configureLogLevel(args, System.getenv());
        CountDownLatch returned = new CountDownLatch(1);
        if (!isLongRunning(args)) {
            exitNineOnSignal(Thread.currentThread(), returned);
        }
        int status;
        try {
            status = run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true), System.getenv());
        } finally {
            returned.countDown(); // an Error escaping run is not a signal: the JVM reports it, not exit 9
        }
        System.exit(status);
    }

    private static boolean isLongRunning(String[] args) {
        String command = commandOf(args);
        return command.equals("daemon") || command.equals("demo");
    }

    /**
     * SIGTERM or SIGINT during a one-shot command: interrupt it so it cleans up (pg_dump killed,
     * temporary file removed), then exit with the documented 9 instead of the JVM's 143/130. A
     * normal exit passes through: the command has returned by then.
     */
    private static void exitNineOnSignal(Thread command, CountDownLatch returned) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (returned.getCount() == 0) {
                return;
            }
            command.interrupt();
            try {
                returned.await(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                // exit anyway
            }
            Runtime.getRuntime().halt(ExitCode.INTERRUPTED.status());
        }, "backstop-signal"));
    }

    /** Runs one command line and returns its exit status; never calls System.exit. */
    public static int run(String[] args, PrintWriter out, PrintWriter err, Map<String, String> env) {
        return run(args, out, err, env, System.in);
    }

    /** With the command's standard input given (the guard server answers many clients in one process). */
    public static int run(String[] args, PrintWriter out, PrintWriter err, Map<String, String> env,
            java.io.InputStream stdin) {
        return run(io.backstop.cli.CommandLines.configured(exitCodeTable()), args, out, err, env, stdin);
    }

    /**
     * Runs {@code args} on a command line built by {@link io.backstop.cli.CommandLines#configured} (one may serve many runs, one
     * at a time: picocli resets every option before it parses), with a Main of this run's own.
     */
    public static int run(CommandLine cmd, String[] args, PrintWriter out, PrintWriter err, Map<String, String> env,
            java.io.InputStream stdin) {
        Main main = new Main(env, Clock.systemUTC());
        main.stdin = stdin;
        // Encrypted local backups (encryption.local) are read with this identity; --identity overrides it.
        String identity = env.get("BACKSTOP_AGE_IDENTITY_FILE");
        io.backstop.backup.Archive.useIdentity(identity == null || identity.isBlank() ? null : Path.of(identity));
        ((BackstopCommand) cmd.getCommand()).use(main);
        cmd.setOut(out);
        cmd.setErr(err);
        boolean debug = Arrays.asList(args).contains("--debug");
        cmd.setExecutionExceptionHandler((e, commandLine, parseResult) -> report(e, commandLine.getErr(), debug));
        return cmd.execute(args);
    }

    /** Prints an error the way an operator reads it: the message, then causes that add something. */
    static int report(Exception e, PrintWriter err, boolean debug) {
        if (e instanceof BackstopException be) {
            err.println("backstop: error: " + be.getMessage());
            printCauses(be, err);
            if (debug) {
                be.printStackTrace(err);
            }
            err.flush();
            return be.code().status();
        }
        err.println("backstop: internal error: " + e);
        if (debug) {
            e.printStackTrace(err);
        } else {
            err.println("  (run again with --debug for the stack trace, and report it)");
        }
        err.flush();
        return ExitCode.INTERNAL.status();
    }

    private static void printCauses(Throwable e, PrintWriter err) {
        String seen = String.valueOf(e.getMessage());
        for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
            String m = c.getMessage();
            if (m != null && !seen.contains(m)) {
                err.println("  caused by: " + m);
                seen += m;
            }
        }
    }

    public static String[] exitCodeTable() {
        List<String> lines = new java.util.ArrayList<>();
        lines.add("");
        lines.add("Exit codes:");
        for (ExitCode code : ExitCode.values()) {
            lines.add(String.format("  %3d  %s", code.status(), code.meaning()));
        }
        return lines.toArray(String[]::new);
    }

    /**
     * Commands other than the daemon keep the terminal for their own output; their logs show
     * only warnings unless --verbose. Must run before the first logger is created.
     */
    static void configureLogLevel(String[] args, Map<String, String> env) {
        if (env.containsKey("BACKSTOP_LOG_LEVEL")) {
            return;
        }
        List<String> list = Arrays.asList(args);
        String command = commandOf(args);
        boolean chatty = command.equals("daemon") || command.equals("demo") || list.contains("-v")
                || list.contains("--verbose");
        // check prints its own table of what dropped: the alarm's WARN line would only repeat it above.
        System.setProperty("backstop.log.level", chatty ? "INFO" : command.equals("check") ? "ERROR" : "WARN");
    }

    /** The subcommand's name: the first argument that is neither an option nor an option's value. */
    static String commandOf(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-c") || a.equals("--config")) {
                i++;
            } else if (!a.startsWith("-")) {
                return a;
            }
        }
        return "";
    }

    public void configFile(Optional<Path> file) {
        this.configFile = file;
    }

    /** The command's standard input. */
    public java.io.InputStream stdin() {
        return stdin;
    }

    public Map<String, String> env() {
        return env;
    }

    public Clock clock() {
        return clock;
    }

    public synchronized Settings settings() {
        if (settings == null) {
            SettingsLoader loader = new SettingsLoader(env);
            settings = loader.load(loader.locate(configFile));
        }
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
            tools = PgTools.locate(settings().pgDump().binDir());
        }
        return tools;
    }

    public BackupLayout layout() {
        return new BackupLayout(settings().backupDir());
    }

    public Catalog catalog() {
        return new Catalog(layout(), manifests());
    }

    public Rotation rotation() {
        return new Rotation(settings(), layout(), manifests());
    }

    public Check check() {
        return new Check(settings(), layout(), manifests(),
                new StateStore(layout(), manifests().json()),
                new LiveCounts(new RowCounter()), clock);
    }

    public BackupCycle cycle() {
        return new BackupCycle(backup(), check(), rotation(), layout(), manifests());
    }

    public Restore restore() {
        return new Restore(backup(), check(), tools(), settings().pgDump().timeout());
    }

    public io.backstop.recover.Recover recover() {
        return new io.backstop.recover.Recover(settings(), backup(), tools());
    }

    public Drill drill() {
        return new Drill(settings(), tools(), manifests(), clock);
    }

    public Daemon daemon() {
        return daemon(Reporter.NONE);
    }

    public Daemon daemon(Reporter reporter) {
        // Offsite syncs run in child JVMs (see OffsiteProcess), with this process's environment and configuration.
        return new Daemon(settings(), backup(), check(), rotation(), drill(), layout(), catalog(), offsite(),
                offsite().map(o -> new io.backstop.schedule.OffsiteProcess(env, configFile, settings().pgDump().timeout(),
                        manifests().json())), reporter, clock);
    }

    public StateStore states() {
        return new StateStore(layout(), manifests().json());
    }

    /** The HTTP surface over {@code state}, which the daemon's jobs keep current. */
    public HttpApi http(HealthState state) {
        return new HttpApi(settings(), new Health(settings(), state, clock),
                new Metrics(settings(), state, VersionProvider.version()), cycle(),
                state, clock, manifests().json());
    }

    /** What /health and /metrics know before the first event: the newest backups and state.json on disk. */
    public void seed(HealthState state) {
        for (Settings.Target t : settings().targets()) {
            Instant newest = catalog().newestVerified(t.name())
                    .flatMap(Catalog.Entry::manifest).map(Manifest::finishedAt).orElse(null);
            TargetState st = states().read(t.name());
            Map<String, Long> baseline = st.baseline() == null ? Map.of() : st.baseline().rowCounts();
            Map<String, Long> rows = st.lastCheck() != null ? st.lastCheck().rowCounts() : baseline;
            state.seed(t.name(), newest, rows, baseline, st.alarmRaised(),
                    st.alarm() == null ? List.of() : st.alarm().drops(), rotation().retained(t.name()));
            state.damaged(t.name(), catalog().damaged(t.name()));
            offsite().ifPresent(o -> state.seedOffsite(t.name(), o.state(t.name()).copies().values().stream()
                    .map(io.backstop.offsite.Offsite.Copy::uploadedAt).max(java.util.Comparator.naturalOrder())
                    .orElse(null), o.waitingSince(t.name()).orElse(null)));
            catalog().newestVerified(t.name()).flatMap(Catalog.Entry::manifest).map(Manifest::lastDrill)
                    .ifPresent(d -> state.drilled(t.name(), new Drill.Result(d.passed(), true, d.details(),
                            Duration.ofMillis((long) (d.durationSeconds() * 1000)), 0, null, d)));
        }
    }

    private Optional<io.backstop.offsite.Offsite> offsite;

    /** Offsite copies, when {@code offsite.url} is set; one store client per process. */
    public synchronized Optional<io.backstop.offsite.Offsite> offsite() {
        if (offsite == null) {
            offsite = settings().offsite().map(o -> new io.backstop.offsite.Offsite(o, settings().encryption(), layout(),
                    catalog(), clock));
        }
        return offsite;
    }

    public Backup backup() {
        return new Backup(settings(), layout(), tools(), manifests(), new RowCounter(), clock);
    }

    /** The targets a command acts on: the named one (an error naming the known ones if absent), else all. */
    public List<Settings.Target> targets(Optional<String> name) {
        if (name.isEmpty()) {
            return settings().targets();
        }
        return List.of(settings().target(name.get()).orElseThrow(() -> new BackstopException(ExitCode.USAGE,
                "--target " + name.get() + ": no such target; configured: "
                        + String.join(", ", settings().targets().stream().map(Settings.Target::name).toList()))));
    }
}
