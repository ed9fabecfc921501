package io.backstop.schedule;

import io.backstop.backup.Progress;
import io.backstop.files.Sizes;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Progress for the daemon: a log line every {@code every}, so a long dump shows it is alive. */
final class LogProgress implements Progress {
    private static final Logger log = LoggerFactory.getLogger(LogProgress.class);

    private final String target;
    private final long everyNanos;
    private long nextNanos;

    LogProgress(String target, Duration every) {
        this.target = target;
        this.everyNanos = every.toNanos();
        this.nextNanos = System.nanoTime() + everyNanos;
    }

    @Override
    public void update(String phase, long bytes, Duration elapsed) {
        long now = System.nanoTime();
        if (now >= nextNanos) {
            nextNanos = now + everyNanos;
            log.info("backup {} {}: {} written, {}, {}", target, phase, Sizes.bytes(bytes), Sizes.rate(bytes, elapsed),
                    Sizes.seconds(elapsed));
        }
    }
}
