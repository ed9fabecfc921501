package io.backstop.cli;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.config.Settings;
import io.backstop.notify.Notifier;
import java.io.PrintWriter;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code backstop notify --test}: prove each channel reaches a person before the day it has to. */
@Command(name = "notify", header = "Send a test message on each notification channel.",
        description = {"With --test: send a test message on every configured channel (or the one --channel names),",
        "one after another, and print what each did. Exit 0 when every one was delivered, 14 when one was not.",
        "The heartbeat URL is not requested: a ping says a backup happened."})
public final class NotifyCommand implements Callable<Integer> {
    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Option(names = "--test", required = true, description = "Send a test message (required: this command sends nothing else).")
    boolean test;

    @Option(names = "--channel", paramLabel = "NAME", description = "Only this channel (by its name).")
    String channel;

    @Override
    public Integer call() {
        Components main = parent.components();
        Settings settings = main.settings();
        Settings.Notify notify = settings.notifications();
        if (notify.channels().isEmpty()) {
            throw new BackstopException(ExitCode.USAGE, "no notification channel is configured; add one to"
                    + " backstop.notify.channels, e.g. { name = oncall, type = slack, url-file = \"/run/secrets/slack\" }"
                    + " (README \"Notifications\")");
        }
        if (channel != null && notify.channel(channel).isEmpty()) {
            throw new BackstopException(ExitCode.USAGE, "--channel " + channel + ": no such channel; configured: "
                    + String.join(", ", notify.channels().stream().map(Settings.Channel::name).toList()));
        }
        PrintWriter out = spec.commandLine().getOut();
        List<Notifier.Tried> tried = Notifier.test(settings, Optional.ofNullable(channel), parent.invocation().clock());
        int failed = 0;
        for (Notifier.Tried t : tried) {
            if (t.error() == null) {
                out.printf("sent    %s%n", t.description());
            } else {
                failed++;
                out.printf("FAILED  %s: %s%n", t.description(), t.error());
            }
        }
        out.printf("%d of %d channels delivered the test message%s%n", tried.size() - failed, tried.size(),
                notify.heartbeat().isPresent() ? "; the heartbeat URL is set (requested after each backup)" : "");
        out.flush();
        return failed == 0 ? ExitCode.OK.status() : ExitCode.NOTIFY.status();
    }
}
