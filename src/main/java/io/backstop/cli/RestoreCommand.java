package io.backstop.cli;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.config.Settings;
import io.backstop.files.Sizes;
import io.backstop.pitr.Replay;
import io.backstop.restore.Resolver;
import io.backstop.restore.Restore;
import java.io.PrintWriter;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code backstop restore BACKUP --into DB}: restore with safety. */
@Command(name = "restore", header = "Restore a backup into a database, with safety.",
        description = {"Restore a backup into a database. BACKUP is a path, latest, pinned,",
        "a label, or a timestamp prefix; the file it resolves to is printed first. Checks the file's sha256;",
        "refuses a non-empty database without --clean; takes a safety backup (safety tier, pre-restore) of an",
        "existing one first; asks you to type the database name unless --yes; creates the database as the",
        "archive describes it (template0, encoding, locale, owner, settings, comment, grants); stops at the",
        "first error, naming the object, unless --continue-on-error; compares the restored row counts with",
        "the manifest (exit 4 when they differ or an object failed).",
        "With PITR on, --at TIME|LSN restores the database as it was at that point instead of a backup: the archive is",
        "replayed in a throwaway cluster and the database taken there as a backup of its own (at-<point>), then",
        "restored as above. --at with --physical DIR writes a data directory that recovers to the point instead."})
public final class RestoreCommand implements Callable<Integer> {
    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    TargetOption targets;

    @Parameters(index = "0", arity = "0..1", paramLabel = "BACKUP", description = "A path, latest, pinned, a label (pre-migration), a timestamp prefix (20261121T13), or"
            + " offsite:REF (a copy in the offsite store: offsite:latest, offsite:FILE, ...).")
    String backup;

    @Mixin
    IdentityOption identity;

    @Mixin
    PointOption point;

    @Option(names = "--into", paramLabel = "DB", description = "The database to restore into.")
    String into;

    @Option(names = "--physical", paramLabel = "DIR", description = "With --at: write a data directory that a server"
            + " of the same major version starts on and recovers to the point (new or empty DIR), instead of --into.")
    java.nio.file.Path physical;

    @Option(names = "--with-roles", description = "First create the roles, memberships and settings this server lacks"
            + " (an empty server after the host was lost), from the globals file taken beside the backup; a role that"
            + " exists is never changed.")
    boolean withRoles;

    @Option(names = "--clean", description = "Replace a non-empty database (after a safety backup of it).")
    boolean clean;

    @Option(names = {"-y", "--yes"}, description = "Do not ask for the typed confirmation.")
    boolean yes;

    @Option(names = "--continue-on-error", description = "Restore everything that can be restored and list every"
            + " object that failed (exit 4 when any did).")
    boolean continueOnError;

    @Option(names = "--force", description = "Restore a backup even when its counts are below the baseline of a raised"
            + " data-loss alarm.")
    boolean force;

    @Option(names = {"-j", "--jobs"}, defaultValue = "1", paramLabel = "N", description = "pg_restore jobs (default: 1).")
    int jobs;

    @Override
    public Integer call() {
        Components main = parent.components(Optional.ofNullable(identity.file));
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Settings.Target target = main.targets(targets.name()).get(0);
        refuseMixed();
        if (physical != null) {
            return physical(main, target, out);
        }
        Resolver resolver = new Resolver(main.layout(), main.manifests());
        Resolver.Resolved resolved = point.given() ? point.snapshot(main, target, out, "restoring to the database")
                : resolver.resolve(OffsiteReference.localize(main, target.name(), backup, identity.resolve(main), out),
                        target.name());
        io.backstop.counts.TargetState state = main.states().readOrWarn(target.name(), out::println);
        out.println(resolver.describe(resolved, state, main.settings().rowCounts()));
        out.flush();
        resolver.refuseIfBelowRaisedAlarm(resolved, state, main.settings().rowCounts(), force);
        Restore.Confirmation confirmation = TypedConfirmation.of(yes, err);
        Restore.Result r = main.restore().run(target, new Restore.Request(resolved, into, clean, jobs, continueOnError,
                confirmation, withRoles));
        r.roles().ifPresent(roles -> out.println("roles: " + roles.describe()));
        r.safetyBackup().ifPresent(s -> out.println("safety backup of " + into + ": " + main.layout().root().relativize(s)));
        for (String f : r.failed()) {
            out.println("FAILED " + f);
        }
        for (String n : r.notes()) {
            out.println("NOTE " + n);
        }
        for (String d : r.differences()) {
            out.println("DIFFERENCE " + d);
        }
        out.printf("restore %s: %s into %s, %d tables, %,d rows, %s%n", target.name(),
                main.layout().root().relativize(r.file()), into, r.restored().size(),
                r.restored().values().stream().mapToLong(Long::longValue).sum(),
                (r.failed().isEmpty() ? "" : r.failed().size() + " objects failed, ")
                        + (r.differences().isEmpty() ? "row counts match the manifest, " + Sizes.seconds(r.duration())
                        : r.differences().size() + " tables differ from the manifest"));
        return r.differences().isEmpty() && r.failed().isEmpty() ? ExitCode.OK.status() : ExitCode.DUMP_FAILED.status();
    }

    /** One source (a backup, --at or --before-incident) and one destination (--into, or --physical). */
    private void refuseMixed() {
        if ((backup != null) == point.given()) {
            throw new BackstopException(ExitCode.USAGE, backup == null
                    ? "restore needs a BACKUP, --at TIME|LSN or --before-incident"
                    : "restore takes one of a BACKUP, --at TIME|LSN and --before-incident");
        }
        if (physical != null && (backup != null || into != null)) {
            throw new BackstopException(ExitCode.USAGE, backup != null
                    ? "--physical DIR goes with --at TIME|LSN or --before-incident"
                    : "--physical DIR writes a data directory: it takes no --into");
        }
        if (physical == null && into == null) {
            throw new BackstopException(ExitCode.USAGE, "restore needs --into DB (or, with --at, --physical DIR)");
        }
    }

    private int physical(Components main, Settings.Target target, PrintWriter out) {
        Replay.Plan plan = main.pointInTime().physical(target, point.point(main, target, out, "writing the data"
                + " directory"), physical);
        out.printf("restore %s: %s written to %s: %s. Start a PostgreSQL %s server on it (owned by the server's user,"
                + " mode 0700); it replays to the point and promotes, then takes connections as the old server did."
                + " docs/recovery.md, \"The host is lost\", says how under the postgres container.%n", target.name(),
                "a data directory", physical, plan.describe(), Replay.major(plan.base().serverVersion()));
        return ExitCode.OK.status();
    }
}
