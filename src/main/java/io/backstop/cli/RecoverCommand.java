package io.backstop.cli;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.config.Settings;
import io.backstop.counts.Check;
import io.backstop.counts.TargetState;
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
                "keys; a dropped table or schema is recreated as it was, with the foreign keys that referenced it and",
                "the views that depended on it. A partitioned table stands for its partitions. In a table reset since",
                "the backup (dropped and created again, truncated, a database or volume recreated), a key both sides",
                "hold with different rows is a collision: the apply refuses until told --rekey-new, --keep-new or",
                "--keep-old. Triggers do not fire on the rows it writes; foreign keys are checked before the commit.",
                "With PITR on, --at TIME|LSN compares with the database as it was at that point instead of a backup",
                "(the archive replayed in a throwaway cluster, the database there taken as a backup of its own)."})
public final class RecoverCommand implements Callable<Integer> {
    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    TargetOption targets;

    @Parameters(arity = "0..*", paramLabel = "TABLE", description = "Tables to recover: schema.table (quote mixed case).")
    List<String> tables = List.of();

    @Option(names = "--rekey-new", description = "Collisions: move the rows written since to fresh keys from the"
            + " table's sequence (the rows written since that reference them follow), then put the backup's rows back"
            + " under their own keys: both survive.")
    boolean rekeyNew;

    @Option(names = "--keep-new", description = "Collisions: keep the rows written since; the backup's rows with"
            + " those keys stay out.")
    boolean keepNew;

    @Option(names = "--keep-old", description = "Collisions: the backup's rows overwrite the rows written since that"
            + " hold their keys.")
    boolean keepOld;

    @Option(names = "--large-objects", description = "Also put back large objects the database lost, under their"
            + " own OIDs (done anyway when a recovered table has an oid column).")
    boolean largeObjects;

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

    @Mixin
    PointOption point;

    @Override
    public Integer call() {
        Components main = parent.components(Optional.ofNullable(identity.file));
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Settings.Target target = main.targets(targets.name()).get(0);
        Resolver resolver = new Resolver(main.layout(), main.manifests());
        if (tables.isEmpty() && !largeObjects) {
            throw new BackstopException(ExitCode.USAGE, "recover needs a TABLE (schema.table), or --large-objects");
        }
        if (from != null && point.given()) {
            throw new BackstopException(ExitCode.USAGE, "recover takes one of --from BACKUP, --at TIME|LSN and"
                    + " --before-incident");
        }
        Resolver.Resolved backup = point.given() ? point.snapshot(main, target, out, "comparing with the database")
                : from != null ? resolver.resolve(from, target.name())
                : resolver.pinned(target.name()).orElseGet(() -> resolver.resolve("latest", target.name()));
        TargetState state = main.states().readOrWarn(target.name(), out::println);
        out.println(resolver.describe(backup, state, main.settings().rowCounts()));
        Restore.Confirmation confirmation = TypedConfirmation.of(yes, err);
        Recover.Result r = main.recover().run(target, new Recover.Request(backup, tables, apply, missing, changed,
                onCollision(), largeObjects, state == null ? List.of() : state.recoveredXids(), confirmation));
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
            t.reset().ifPresent(why -> out.printf("  reset since the backup: %s; its keys are not the backup's keys%n",
                    why));
            if (t.collisions() > 0) {
                out.printf("  COLLISIONS %,d%s: keys held by a row written since and by another row in the backup%s%n",
                        t.collisions(), samples(t.collisionSamples()), r.applied() ? ""
                                : "; the apply needs --rekey-new (both survive), --keep-new or --keep-old");
            }
            if (r.applied()) {
                out.printf("  applied: %,d rows inserted%s%n", t.inserted(),
                        t.updated() > 0 ? ", " + String.format("%,d", t.updated()) + " rows reset" : "");
                t.notes().forEach(note -> out.println("  " + note));
            }
        }
        Recover.LargeObjectsReport objects = r.largeObjects();
        if (objects.inBackup() > 0 || objects.missing() > 0) {
            out.printf("large objects: %,d in the backup, %,d live, missing live %,d%s%s%n", objects.inBackup(),
                    objects.live(), objects.missing(), objects.samples().isEmpty() ? "" : " (e.g. OID "
                            + String.join(", ", objects.samples().stream().map(String::valueOf).toList()) + ")",
                    r.applied() ? String.format("; %,d put back under their OIDs (%s)", objects.restored(),
                            Sizes.bytes(objects.bytes())) : "");
        }
        r.recreatedObjects().forEach(o -> out.println("recreated with it: " + o));
        r.notRecreated().forEach((name, why) -> out.println("NOT RECREATED: " + name + ": " + why));
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
        main.check().recovered(target.name(), r.tables().stream().map(Recover.TableReport::table).toList(), changed,
                r.xid());
        Check.Result again = main.check().run(target);
        out.printf("recover %s: applied in one transaction (%s); the data-loss check now says: %s%n", target.name(),
                Sizes.seconds(r.duration()), again.alarmRaised() ? "still dropped (" + again.drops().size()
                        + " tables): backstop check" : "no drop" + (again.held().isEmpty() ? "" : "; the backups the alarm"
                        + " pinned stay pinned until `backstop ack`"));
        if (!r.notRecreated().isEmpty()) {
            err.printf("recover %s: %d objects that depended on the recreated tables are missing: %s%n", target.name(),
                    r.notRecreated().size(), String.join(", ", r.notRecreated().keySet()));
            return ExitCode.INCOMPLETE.status();
        }
        return ExitCode.OK.status();
    }

    private Recover.OnCollision onCollision() {
        int chosen = (rekeyNew ? 1 : 0) + (keepNew ? 1 : 0) + (keepOld ? 1 : 0);
        if (chosen > 1) {
            throw new BackstopException(ExitCode.USAGE, "--rekey-new, --keep-new and --keep-old exclude each other;"
                    + " allowed: one of them");
        }
        return rekeyNew ? Recover.OnCollision.REKEY_NEW : keepNew ? Recover.OnCollision.KEEP_NEW
                : keepOld ? Recover.OnCollision.KEEP_OLD : Recover.OnCollision.REFUSE;
    }

    private static String samples(List<String> keys) {
        return keys.isEmpty() ? "" : " (e.g. " + String.join("; ", keys) + ")";
    }
}
