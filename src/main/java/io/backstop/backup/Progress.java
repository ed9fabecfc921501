package io.backstop.backup;

import io.backstop.Background;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Receives the progress of a long operation: bytes written so far and time elapsed. The CLI
 * draws it on a terminal; the daemon logs it now and then.
 */
public interface Progress {
    Progress NONE = (phase, bytes, elapsed) -> { };

    void update(String phase, long bytes, Duration elapsed);

    /**
     * Polls {@code file}'s size every {@code every} on a named daemon thread and reports it
     * until closed. Polling the file keeps the dump's bytes out of the JVM entirely.
     */
    /** A running watch; closing it stops the reports. */
    interface Watch extends AutoCloseable {
        @Override
        void close();
    }

    static Watch watch(Path file, String phase, String threadName, Duration every, Progress progress) {
        if (progress == NONE) {
            return () -> { };
        }
        long started = System.nanoTime();
        Thread t = Background.start(threadName, () -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    Thread.sleep(every.toMillis());
                    long size = Files.exists(file) ? Files.size(file) : 0;
                    progress.update(phase, size, Duration.ofNanos(System.nanoTime() - started));
                }
            } catch (InterruptedException | java.io.IOException e) {
                // closed, or the file went away at the end
            }
        });
        return t::interrupt;
    }
}
