package io.backstop.cli;

import io.backstop.app.Components;
import io.backstop.config.Settings;
import io.backstop.counts.Check;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code backstop ack}: the drop was intended; current counts become the baseline and pins are released. */
@Command(name = "ack", header = "Acknowledge a data-loss alarm.",
        description = {"Acknowledge a data-loss alarm: the current live counts become the baseline",
        "and the backups pinned by the alarm are released to normal rotation."})
public final class AckCommand implements Callable<Integer> {
    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    TargetOption targets;

    @Override
    public Integer call() {
        Components main = parent.components();
        PrintWriter out = spec.commandLine().getOut();
        for (Settings.Target t : main.targets(targets.name())) {
            Check.Result r = main.check().ack(t);
            out.printf("ack %s: %s; new baseline: %d tables, %,d rows%n", t.name(),
                    r.cleared() ? "alarm cleared, pinned backups released" : "no alarm was raised",
                    r.counts().size(), r.counts().values().stream().mapToLong(Long::longValue).sum());
        }
        return 0;
    }
}
