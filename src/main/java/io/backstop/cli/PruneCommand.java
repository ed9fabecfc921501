package io.backstop.cli;

import io.backstop.app.Components;
import io.backstop.config.Settings;
import io.backstop.files.TargetLock;
import io.backstop.retention.RetentionPlan;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code backstop prune}: apply retention now, or show what it would delete. */
@Command(name = "prune", header = "Apply retention now.",
        description = {"Apply retention now and print what goes and why.",
        "Pinned backups, the newest verified backup and files without a Backstop manifest are never deleted."})
public final class PruneCommand implements Callable<Integer> {
    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    TargetOption targets;

    @Option(names = {"-n", "--dry-run"}, description = "Only print what would be deleted.")
    boolean dryRun;

    @Override
    public Integer call() {
        Components main = parent.components();
        PrintWriter out = spec.commandLine().getOut();
        for (Settings.Target t : main.targets(targets.name())) {
            List<RetentionPlan.Deletion> plan;
            try (TargetLock lock = TargetLock.acquire(main.layout().lockFile(t.name()), t.name(), Duration.ofMinutes(1))) {
                plan = main.prune().prune(t.name(), dryRun);
            }
            for (RetentionPlan.Deletion d : plan) {
                out.printf("%s %s (%s)%n", dryRun ? "would delete" : "deleted", main.layout().root().relativize(d.file()),
                        d.reason());
            }
            out.printf("prune %s: %d %s%s%n", t.name(), plan.size(), plan.size() == 1 ? "backup" : "backups",
                    dryRun ? " would be deleted (dry run)" : " deleted");
        }
        return 0;
    }
}
