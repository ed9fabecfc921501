package io.backstop.pg;

import io.backstop.Background;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Runs one external program (pg_dump, pg_restore, ...): arguments as a list, never a shell;
 * stdout and stderr drained on named threads; the last lines of stderr kept; a timeout that
 * kills; and a failure that carries the command, exit code and stderr tail with secrets
 * redacted. Where util-linux's setpriv exists the child is tied to this JVM's life, so a
 * SIGKILLed daemon leaves no orphan pg_dump holding a snapshot.
 */
public final class ProcessRunner {
    private static final int STDERR_TAIL_LINES = 20;
    private static final Path SETPRIV = Path.of("/usr/bin/setpriv");
    private static final Path NICE = Path.of("/usr/bin/nice");
    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    public ProcessRunner() {
    }

    /** What a finished process left behind. */
    public record Result(int exitCode, String stderrTail, Duration elapsed) {
    }

    /** A request: the command, its environment additions and what to do with stdout. */
    public record Spec(List<String> command, Map<String, String> environment, Duration timeout,
            InputStreamSink stdout, OutputStreamSource stdin, boolean background, Predicate<String> stderrReader) {
        public Spec {
            command = List.copyOf(command);
            environment = Map.copyOf(environment);
        }

        public static Spec of(List<String> command, Map<String, String> environment, Duration timeout) {
            return new Spec(command, environment, timeout, InputStreamSink.DISCARD, null, false, line -> false);
        }

        public Spec withStdout(InputStreamSink sink) {
            return new Spec(command, environment, timeout, sink, stdin, background, stderrReader);
        }

        public Spec withStdin(OutputStreamSource source) {
            return new Spec(command, environment, timeout, stdout, source, background, stderrReader);
        }

        /** Runs at lower CPU priority (nice 10): work that must not slow down what it runs beside. */
        public Spec inBackground() {
            return new Spec(command, environment, timeout, stdout, stdin, true, stderrReader);
        }

        /**
         * Every stderr line (redacted) goes to {@code reader} first, on the drain thread; lines it
         * returns true for are consumed (progress chatter) and stay out of the kept tail.
         */
        public Spec withStderrReader(Predicate<String> reader) {
            return new Spec(command, environment, timeout, stdout, stdin, background, reader);
        }
    }

    /** Feeds a child's stdin on a named thread; the stream is closed when it returns. */
    @FunctionalInterface
    public interface OutputStreamSource {
        void feed(OutputStream out) throws IOException;
    }

    /** Consumes a child's stdout on the drain thread. */
    @FunctionalInterface
    public interface InputStreamSink {
        InputStreamSink DISCARD = in -> in.transferTo(OutputStream.nullOutputStream());

        void drain(InputStream in) throws IOException;
    }

    /**
     * Runs to completion. Returns the result whatever the exit code; throws only when the
     * program cannot start, times out or the waiting thread is interrupted (the child is
     * killed in both of the latter cases).
     */
    public Result run(Spec spec, Consumer<Process> onStart) {
        List<String> command = new ArrayList<>();
        if (Files.isExecutable(SETPRIV)) {
            command.addAll(List.of(SETPRIV.toString(), "--pdeathsig", "KILL", "--"));
        }
        if (spec.background() && Files.isExecutable(NICE)) {
            command.addAll(List.of(NICE.toString(), "-n", "10"));
        }
        command.addAll(spec.command());
        ProcessBuilder builder = new ProcessBuilder(command);
        Map<String, String> env = builder.environment();
        // libpq reads PG* variables; the operator's own must not leak into a target they don't describe.
        env.keySet().removeIf(k -> k.startsWith("PG"));
        env.putAll(spec.environment());
        if (spec.stdin() == null) {
            builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        }
        String program = Path.of(spec.command().get(0)).getFileName().toString();
        long started = System.nanoTime();
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new BackstopException(ExitCode.TOOLS, "cannot start " + redact(String.join(" ", spec.command()))
                    + ": " + redact(e.getMessage()), e);
        }
        int n = SEQUENCE.incrementAndGet();
        Deque<String> tail = new ArrayDeque<>();
        Thread err = drainThread(program + "-stderr-" + n, () -> keepTail(process.getErrorStream(), tail,
                spec.stderrReader()));
        Thread out = drainThread(program + "-stdout-" + n, () -> spec.stdout().drain(process.getInputStream()));
        Thread feeder = spec.stdin() == null ? null : drainThread(program + "-stdin-" + n, () -> {
            try (OutputStream in = process.getOutputStream()) {
                spec.stdin().feed(in);
            }
        });
        try {
            onStart.accept(process);
            boolean finished = process.waitFor(spec.timeout().toMillis(), TimeUnit.MILLISECONDS);
            if (!finished) {
                kill(process);
                throw new BackstopException(ExitCode.DUMP_FAILED, program + " did not finish within "
                        + spec.timeout() + " and was killed (raise the timeout or find what blocks it)"
                        + tailText(tail));
            }
            err.join(5_000);
            out.join(5_000);
            stop(feeder);
            return new Result(process.exitValue(), String.join("\n", snapshot(tail)),
                    Duration.ofNanos(System.nanoTime() - started));
        } catch (InterruptedException e) {
            kill(process);
            stop(feeder);
            Thread.currentThread().interrupt();
            throw new BackstopException(ExitCode.INTERRUPTED, program + " was stopped: shutting down", e);
        } catch (RuntimeException e) {
            kill(process);
            stop(feeder);
            throw e;
        }
    }

    /** A feeder outlives its process only briefly: it must not keep files open (or a file system busy). */
    private static void stop(Thread feeder) {
        if (feeder == null) {
            return;
        }
        feeder.interrupt();
        try {
            feeder.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public BackstopException failure(Spec spec, Result result, ExitCode code) {
        return new BackstopException(code, redact(String.join(" ", spec.command())) + " failed with exit code "
                + result.exitCode() + (result.stderrTail().isBlank() ? "" : ":\n" + indent(result.stderrTail())));
    }

    public String redact(String text) {
        return Redactor.redact(text);
    }

    /** Kills {@code process} and its children, and waits (10 s at most) until it has ended. */
    public static void kill(Process process) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private String tailText(Deque<String> tail) {
        List<String> lines = snapshot(tail);
        return lines.isEmpty() ? "" : ":\n" + indent(String.join("\n", lines));
    }

    private static List<String> snapshot(Deque<String> tail) {
        synchronized (tail) {
            return new ArrayList<>(tail);
        }
    }

    private static String indent(String text) {
        return "    " + text.replace("\n", "\n    ");
    }

    private static void keepTail(InputStream in, Deque<String> tail, Predicate<String> stderrReader) throws IOException {
        try (var reader = new java.io.BufferedReader(new java.io.InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                line = Redactor.redact(line);
                if (stderrReader.test(line)) {
                    continue;
                }
                synchronized (tail) {
                    tail.addLast(line);
                    if (tail.size() > STDERR_TAIL_LINES) {
                        tail.removeFirst();
                    }
                }
            }
        }
    }

    private interface IoTask {
        void run() throws IOException;
    }

    private static Thread drainThread(String name, IoTask task) {
        return Background.start(name, () -> {
            try {
                task.run();
            } catch (IOException ignored) {
                // The process went away; its exit code tells the story.
            }
        });
    }
}
