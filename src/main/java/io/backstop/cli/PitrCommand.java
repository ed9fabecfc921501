package io.backstop.cli;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.config.Settings;
import io.backstop.pg.Database;
import io.backstop.pg.Redactor;
import io.backstop.pitr.Slot;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code backstop pitr …}: what point-in-time recovery leaves on the server. */
@Command(name = "pitr", header = "Point-in-time recovery: the replication slot on the server.",
        description = "Point-in-time recovery: the replication slot Backstop streams WAL through.",
        subcommands = {PitrCommand.DropSlot.class, PitrCommand.BaseBackup.class})
public final class PitrCommand implements Callable<Integer> {
    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    /** {@code backstop pitr base-backup}: a verified base backup now (the daemon takes them on its schedule). */
    @Command(name = "base-backup", header = "Take a verified base backup now.",
            description = {"pg_basebackup (plain format, the WAL it needs streamed in, a backup_manifest) into",
                    "<backup-dir>/<target>/base/, counted once it matched that manifest (every file's CRC32C, and",
                    "pg_verifybackup for the file list and the WAL). The daemon takes one",
                    "every pitr.base-backup.every and applies pitr.base-backup.keep at its next one."})
    static final class BaseBackup implements Callable<Integer> {
        @ParentCommand
        PitrCommand pitr;

        @Spec
        CommandSpec spec;

        @Mixin
        TargetOption targets;

        @Override
        public Integer call() {
            Components main = pitr.parent.components();
            PrintWriter out = spec.commandLine().getOut();
            for (Settings.Target t : main.targets(targets.name())) {
                io.backstop.pitr.BaseBackups bases = new io.backstop.pitr.BaseBackups(main.layout().targetDir(t.name()),
                        main.tools(), main.manifests().json(), main.clock());
                long started = System.nanoTime();
                io.backstop.pitr.BaseBackups.Base b = bases.take(t);
                out.printf("%s: base backup %s, %s in %.2f s (pg_basebackup, checked against its backup_manifest), WAL %s to %s%n",
                        t.name(), b.name(), io.backstop.files.Sizes.bytes(b.sizeBytes()),
                        (System.nanoTime() - started) / 1e9, b.startLsn(), b.endLsn());
            }
            return 0;
        }
    }

    /** {@code backstop pitr drop-slot}: removes Backstop's slot, so that nothing holds WAL back on the server. */
    @Command(name = "drop-slot", header = "Drop the replication slot Backstop streams WAL through.",
            description = {"Drop the physical replication slot of each target (pitr.slot, by default backstop_<target>)",
                    "on its server, so that the server no longer keeps WAL for Backstop. Run it when Backstop",
                    "goes away or PITR is switched off; stop the daemon first (a slot in use is refused)."})
    static final class DropSlot implements Callable<Integer> {
        @ParentCommand
        PitrCommand pitr;

        @Spec
        CommandSpec spec;

        @Mixin
        TargetOption targets;

        @Override
        public Integer call() {
            Components main = pitr.parent.components();
            PrintWriter out = spec.commandLine().getOut();
            for (Settings.Target t : main.targets(targets.name())) {
                String slot = t.pitr().slot();
                try (Connection c = new Database(t).connect()) {
                    boolean dropped = Slot.drop(c, slot);
                    out.printf("%s: %s%n", t.name(), dropped
                            ? "dropped replication slot " + slot + " on " + t.describe()
                                    + "; the server no longer keeps WAL for Backstop"
                            : "no replication slot " + slot + " on " + t.describe() + "; nothing to drop");
                } catch (SQLException e) {
                    throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "target " + t.name()
                            + ": cannot drop replication slot " + slot + ": " + Redactor.redact(e.getMessage()), e);
                }
            }
            return 0;
        }
    }
}
