package io.backstop.cli;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.backup.Backup;
import io.backstop.backup.BackupResult;
import io.backstop.config.Settings;
import io.backstop.files.Sizes;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code backstop backup}: one verified backup now, through the same path the scheduler uses. */
@Command(name = "backup", header = "Take one verified backup now.",
        description = {
        "Take one verified backup now (the same path the scheduler uses).",
        "With --label it goes to the manual tier, e.g. --label pre-migration before a migration:",
        "exit code 0 means a verified backup exists and it is safe to proceed."})
public final class BackupCommand implements Callable<Integer> {
    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    TargetOption targets;

    @Option(names = {"-l", "--label"}, paramLabel = "L",
            description = "Label for a manual backup, e.g. pre-migration (letters, digits, '.', '_', '-').")
    String label;

    @Option(names = "--wait", paramLabel = "SECONDS", defaultValue = "0",
            description = "Wait this long for a running backup of the same target instead of failing (default: ${DEFAULT-VALUE}).")
    long waitSeconds;

    @Override
    public Integer call() {
        Components main = parent.components();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        io.backstop.backup.BackupCycle cycle = main.cycle();
        Backup.Request request = new Backup.Request(Optional.ofNullable(label), Duration.ofSeconds(waitSeconds));
        int status = ExitCode.OK.status();
        for (Settings.Target t : main.targets(targets.name())) {
            try (TerminalProgress progress = TerminalProgress.forStderr(err, t.name())) {
                io.backstop.backup.BackupCycle.Result done = cycle.run(t, request, progress);
                BackupResult r = done.backup();
                progress.finish();
                out.printf("backup %s: %s, %s, %d tables, %,d rows, %s (dump %s, verify %s), verified, sha256 %s%n",
                        t.name(), main.layout().root().relativize(r.file()), Sizes.bytes(r.bytes()),
                        r.rowCounts().size(), r.manifest().totalRows(), Sizes.seconds(r.duration()),
                        Sizes.seconds(r.dumpTime()), Sizes.seconds(r.verifyTime()),
                        r.manifest().sha256().substring(0, 12));
                main.offsite().ifPresent(offsite -> copyOffsite(offsite, t, out, err));
                if (done.check() != null && (done.check().newlyRaised() || done.check().alarmRaised())) {
                    err.printf("backstop: WARNING: data-loss alarm on target %s: %s; pinned: %s%n", t.name(),
                            done.check().drops().stream().map(io.backstop.counts.Drop::describe)
                                    .collect(java.util.stream.Collectors.joining("; ")),
                            String.join(", ", done.check().alarm().pinned()));
                }
            } catch (BackstopException e) {
                if (main.settings().targets().size() == 1 || targets.target != null) {
                    throw e;
                }
                // Several targets: report this one and go on with the others.
                err.println("backstop: error: " + e.getMessage());
                status = status == 0 ? e.code().status() : status;
            }
        }
        return status;
    }

    /**
     * The offsite copy of what is new. Its failure never fails the backup, which is verified and
     * final: it is reported, and the daemon (or backstop offsite) catches up.
     */
    private static void copyOffsite(io.backstop.offsite.Offsite offsite, Settings.Target t, PrintWriter out,
            PrintWriter err) {
        try {
            io.backstop.offsite.Offsite.Status s = offsite.syncLocked(t.name(), Duration.ofSeconds(2));
            out.printf("offsite %s: %d uploaded (%s), %d copied in the store, to %s; verified by read back%n", t.name(),
                    s.uploaded(), Sizes.bytes(s.bytes()), s.copied(), offsite.settings().describe());
        } catch (BackstopException e) {
            err.println("backstop: WARNING: offsite copy of target " + t.name() + " not made: " + e.getMessage()
                    + "; the local backup is verified and kept; the daemon retries (or run: backstop offsite)");
        }
    }
}
