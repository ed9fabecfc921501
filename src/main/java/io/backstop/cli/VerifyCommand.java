package io.backstop.cli;

import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.config.Settings;
import io.backstop.files.Sizes;
import io.backstop.restore.Resolver;
import io.backstop.verify.Drill;
import java.io.PrintWriter;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code backstop verify [BACKUP]}: the restore drill, now. */
@Command(name = "verify", header = "Restore drill: prove a backup restores.",
        description = {"Restore drill: restore a backup (default: the newest verified) into a scratch",
        "database, compare every table's count with its manifest, drop the scratch database. Exit 0 passed, 4 failed."})
public final class VerifyCommand implements Callable<Integer> {
    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    TargetOption targets;

    @Parameters(index = "0", arity = "0..1", paramLabel = "BACKUP", description = "A path, latest, pinned, a label, a timestamp prefix, or offsite:REF (a copy in the"
            + " offsite store: offsite:latest, offsite:FILE, ...).")
    String backup;

    @Mixin
    IdentityOption identity;

    @Override
    public Integer call() {
        Components main = parent.components(Optional.ofNullable(identity.file));
        PrintWriter out = spec.commandLine().getOut();
        int status = ExitCode.OK.status();
        for (Settings.Target t : main.targets(targets.name())) {
            Resolver resolver = new Resolver(main.layout(), main.manifests());
            Drill.Result r;
            String drilled;
            io.backstop.verify.PitrDrill.Result replay = null;
            // A copy from the offsite store is downloaded for this drill only, and removed after it.
            try (OffsiteReference.Local local = OffsiteReference.forDrill(main, t.name(), backup,
                    identity.resolve(main), out)) {
                Resolver.Resolved resolved = resolver.resolve(local.reference(), t.name());
                out.println(resolver.describe(resolved, main.states().readOrWarn(t.name(), out::println), main.settings().rowCounts()));
                out.flush();
                main.drill().requireIntact(resolved); // a corrupt file exits 8, as restore does
                r = main.drill().run(t, resolved);
                if (t.pitr().enabled() && local.key() == null) {
                    replay = main.drill().pitr(t, resolved);
                }
                drilled = local.key() != null ? "offsite copy " + local.key()
                        : main.layout().root().relativize(resolved.file()).toString();
            }
            out.printf("verify %s: %s %s: %s (%s)%n", t.name(), drilled,
                    !r.ran() ? "NOT RUN" : r.passed() ? "passed" : "FAILED", r.details(), Sizes.seconds(r.duration()));
            if (replay != null) {
                out.printf("verify %s: PITR replay to its snapshot %s: %s (%s)%n", t.name(),
                        !replay.ran() ? "NOT RUN" : replay.passed() ? "passed" : "FAILED", replay.details(),
                        Sizes.seconds(replay.duration()));
            }
            if (!r.ran()) {
                status = ExitCode.TOOLS.status();
            } else if (!r.passed() || replay != null && replay.ran() && !replay.passed()) {
                status = ExitCode.DUMP_FAILED.status();
            }
        }
        return status;
    }
}
