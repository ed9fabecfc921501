package io.backstop.cli;

import io.backstop.backup.Progress;
import io.backstop.files.Sizes;
import java.io.PrintWriter;
import java.time.Duration;

/** Draws "dump 123.4 MB 45.6 MB/s 0m12s" on one terminal line; silent when stderr is not a terminal. */
final class TerminalProgress implements Progress, AutoCloseable {
    private final PrintWriter err;
    private final String target;
    private final boolean active;
    private volatile boolean drawn;

    private TerminalProgress(PrintWriter err, String target, boolean active) {
        this.err = err;
        this.target = target;
        this.active = active;
    }

    static TerminalProgress forStderr(PrintWriter err, String target) {
        return new TerminalProgress(err, target, System.console() != null);
    }

    @Override
    public void update(String phase, long bytes, Duration elapsed) {
        if (!active) {
            return;
        }
        synchronized (err) {
            err.printf("\r%s %s: %s  %s  %s   ", target, phase, Sizes.bytes(bytes), Sizes.rate(bytes, elapsed),
                    Sizes.seconds(elapsed));
            err.flush();
            drawn = true;
        }
    }

    void finish() {
        if (drawn) {
            synchronized (err) {
                err.print("\r\033[K");
                err.flush();
            }
            drawn = false;
        }
    }

    @Override
    public void close() {
        finish();
    }
}
