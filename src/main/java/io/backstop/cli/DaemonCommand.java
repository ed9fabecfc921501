package io.backstop.cli;

import io.backstop.app.Components;
import io.backstop.http.HealthState;
import io.backstop.http.HttpApi;
import io.backstop.schedule.Daemon;
import io.backstop.schedule.Reporter;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;
import sun.misc.Signal;

/**
 * {@code backstop daemon}: the scheduler, the HTTP server and the notifications. SIGTERM (what
 * {@code docker stop} sends) and SIGINT stop scheduling, end a running dump within a bound
 * and exit 0.
 */
@Command(name = "daemon", header = "Run the scheduler and the HTTP server (the container's default).",
        description = {"Run the scheduler (backups on `schedule`, rotation after each, row-count checks)",
        "the HTTP server (the status page at /, /health, /metrics, POST /backup) and the notification",
        "channels (notify). The container's default command."})
public final class DaemonCommand implements Callable<Integer> {
    /** Inside docker stop's default 10 s grace, so Docker never has to SIGKILL us. */
    static final Duration STOP_BOUND = Duration.ofSeconds(8);

    @ParentCommand
    BackstopCommand parent;

    @Override
    public Integer call() throws InterruptedException {
        Components main = parent.components();
        HealthState state = new HealthState();
        main.seed(state);
        io.backstop.notify.Notifier notifier = main.notifier(state);
        // The notifier reads what the state recorded of the same event, so the state hears it first.
        Reporter reporter = Reporter.chain(state, notifier);
        if (main.fleet().isPresent()) {
            io.backstop.fleet.Fleet fleet = main.fleet().get();
            reporter = Reporter.chain(new io.backstop.schedule.FleetRuns(fleet), reporter);
            notifier.speaksWhen(fleet::speaks);
        }
        Daemon daemon = main.daemon(reporter);
        HttpApi http = main.http(state, reporter, daemon);
        CountDownLatch stopped = new CountDownLatch(1);
        Runnable stop = () -> {
            daemon.stop(STOP_BOUND);
            http.close();
            notifier.close();
            main.fleet().ifPresent(io.backstop.fleet.Fleet::close);
            stopped.countDown();
        };
        Signal.handle(new Signal("TERM"), sig -> new Thread(stop, "backstop-sigterm").start());
        Signal.handle(new Signal("INT"), sig -> new Thread(stop, "backstop-sigint").start());
        http.start();
        notifier.start();
        main.followFleet(state, notifier::tick);
        daemon.start();
        stopped.await();
        return 0;
    }
}
