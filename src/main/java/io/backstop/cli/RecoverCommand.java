package io.backstop.cli;

import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.config.Settings;
import io.backstop.counts.Check;
import io.backstop.files.Sizes;
import io.backstop.recover.Recover;
import io.backstop.restore.Resolver;
import io.backstop.restore.Restore;
import java.io.PrintWriter;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code backstop recover TABLE...}: undo an incident for the named tables, keeping rows written since. */
@Command(name = "recover", header = "Undo an incident: put back the rows a table lost.",
        description = {"Compares the named tables with a backup (default: the pinned pre-incident backup, else latest)",
                "by primary key, or whole rows without one: rows missing live, rows changed since, rows only live",
                "(written since the backup). A dry run unless --apply. With --apply (typed confirmation unless --yes),",
                "in one transaction and after a safety backup of those tables: missing rows are inserted, changed",
                "ones reset only with --changed, rows only live never touched, sequences moved past the restored",
                "keys; a dropped table or schema is recreated as it was, with the foreign keys that referenced it."})
public final class RecoverCommand implements Callable<Integer> {
    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    TargetOption targets;

    @Parameters(arity = "1..*", paramLabel = "TABLE", description = "Tables to recover: schema.table (quote mixed case).")
    List<String> tables;

    @Option(names = "--from", paramLabel = "BACKUP", description = "The backup: a path, pinned, latest, a label or a"
            + " timestamp prefix (default: pinned when an alarm pinned one, else latest).")
    String from;

    @Option(names = "--apply", description = "Put the rows back (default: only compare and report).")
    boolean apply;

    @Option(names = "--missing", defaultValue = "true", negatable = true, description = "Insert rows missing live"
            + " (default; --no-missing with --changed resets changed rows only).")
    boolean missing;

    @Option(names = "--changed", description = "Also reset rows changed since the backup to the backup's values.")
    boolean changed;

    @Option(names = {"-y", "--yes"}, description = "Do not ask for the typed confirmation.")
    boolean yes;


    @Mixin
    IdentityOption identity;

    @Override
    public Integer call() {
        Components main = parent.components(Optional.ofNullable(identity.file));
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Settings.Target target = main.targets(targets.name()).get(0);
        Resolver resolver = new Resolver(main.layout(), main.manifests());
        Resolver.Resolved backup = from != null ? resolver.resolve(from, target.name())
                : resolver.pinned(target.name()).orElseGet(() -> resolver.resolve("latest", target.name()));
        out.println(resolver.describe(backup, main.states().readOrWarn(target.name(), out::println), main.settings().rowCounts()));
        Restore.Confirmation confirmation = TypedConfirmation.of(yes, err);
        Recover.Result r = main.recover().run(target, new Recover.Request(backup, tables, apply, missing, changed,
                confirmation));
        for (Recover.TableReport t : r.tables()) {
            if (!t.existsLive() && !r.applied()) {
                out.printf("%s: does not exist live; the backup holds %,d rows. --apply recreates it with its indexes,"
                        + " constraints, triggers, grants, comments and sequences, and the foreign keys that referenced it.%n",
                        t.table(), t.backupRows());
                continue;
            }
            if (t.recreated()) {
                out.printf("%s: recreated with %,d rows%n", t.table(), t.inserted());
                continue;
            }
            out.printf("%s: %,d rows in the backup, %,d live%s: missing live %,d%s, %s, only live %,d (written"
                    + " since the backup: never touched)%n", t.table(), t.backupRows(), t.liveRows(),
                    t.primaryKey() ? ", compared by primary key" : ", no primary key: compared by whole rows",
                    t.missing(), samples(t.missingSamples()), t.changed() == Recover.NOT_COMPARED
                            ? "changed: not compared (only missing rows were asked for; the dry run compares them)"
                            : String.format("changed %,d%s", t.changed(), samples(t.changedSamples())), t.onlyLive());
            if (r.applied()) {
                out.printf("  applied: %,d rows inserted%s%n", t.inserted(),
                        t.updated() > 0 ? ", " + String.format("%,d", t.updated()) + " rows reset" : "");
            }
        }
        r.safetyBackup().ifPresent(s -> out.println("safety backup of those tables: " + main.layout().root().relativize(s)));
        if (!apply) {
            out.println(r.nothingToDo() ? "nothing to recover: every row of the backup is there"
                    : "dry run: nothing was changed. Add --apply to put the missing rows back"
                            + (r.tables().stream().anyMatch(t -> t.changed() > 0) ? " (and --changed to reset changed ones)"
                            : "") + ".");
            return ExitCode.OK.status();
        }
        if (!r.applied()) {
            out.println("nothing to apply: every row of the backup is there");
            return ExitCode.OK.status();
        }
        Check.Result again = main.check().run(target);
        out.printf("recover %s: applied in one transaction (%s); the data-loss check now says: %s%n", target.name(),
                Sizes.seconds(r.duration()), again.alarmRaised() ? "still dropped (" + again.drops().size()
                        + " tables): backstop check" : "no drop" + (again.held().isEmpty() ? "" : "; the backups the alarm"
                        + " pinned stay pinned until `backstop ack`"));
        return ExitCode.OK.status();
    }

    private static String samples(List<String> keys) {
        return keys.isEmpty() ? "" : " (e.g. " + String.join("; ", keys) + ")";
    }
}
