package io.backstop;

import io.backstop.app.Invocation;
import io.backstop.cli.CommandLines;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The process's entry point: log level, signals, exit status. The command line is {@link CommandLines}'s; the
 * parts a command uses are wired once per run by {@link io.backstop.app.Components}.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        configureLogLevel(args, System.getenv());
        CountDownLatch returned = new CountDownLatch(1);
        if (!isLongRunning(args)) {
            exitNineOnSignal(Thread.currentThread(), returned);
        }
        int status;
        try {
            status = run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true), System.getenv());
        } finally {
            returned.countDown(); // an Error escaping run is not a signal: the JVM reports it, not exit 9
        }
        System.exit(status);
    }

    private static boolean isLongRunning(String[] args) {
        String command = CommandLines.commandOf(args);
        return command.equals("daemon") || command.equals("demo");
    }

    /**
     * SIGTERM or SIGINT during a one-shot command: interrupt it so it cleans up (pg_dump killed,
     * temporary file removed), then exit with the documented 9 instead of the JVM's 143/130. A
     * normal exit passes through: the command has returned by then.
     */
    private static void exitNineOnSignal(Thread command, CountDownLatch returned) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (returned.getCount() == 0) {
                return;
            }
            command.interrupt();
            try {
                returned.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                // exit anyway
            }
            Runtime.getRuntime().halt(ExitCode.INTERRUPTED.status());
        }, "backstop-signal"));
    }

    /** Runs one command line and returns its exit status; never calls System.exit. */
    public static int run(String[] args, PrintWriter out, PrintWriter err, Map<String, String> env) {
        return CommandLines.run(args, out, err, new Invocation(env, Clock.systemUTC(), System.in));
    }

    /**
     * Commands other than the daemon keep the terminal for their own output; their logs show
     * only warnings unless --verbose. Must run before the first logger is created.
     */
    static void configureLogLevel(String[] args, Map<String, String> env) {
        if (env.containsKey("BACKSTOP_LOG_LEVEL")) {
            return;
        }
        List<String> list = Arrays.asList(args);
        String command = CommandLines.commandOf(args);
        boolean chatty = command.equals("daemon") || command.equals("demo") || list.contains("-v")
                || list.contains("--verbose");
        // check prints its own table of what dropped: the alarm's WARN line would only repeat it above.
        System.setProperty("backstop.log.level", chatty ? "INFO" : command.equals("check") ? "ERROR" : "WARN");
    }
}
