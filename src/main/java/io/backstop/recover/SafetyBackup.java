package io.backstop.recover;

import io.backstop.Background;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.backup.Backup;
import io.backstop.backup.BackupResult;
import io.backstop.backup.Progress;
import io.backstop.config.Settings.Target;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The safety backup of the tables an apply changes, taken beside it: started once there is
 * something to change, awaited before the commit (a failed one rolls the apply back).
 */
final class SafetyBackup {
    private static final Logger log = LoggerFactory.getLogger(SafetyBackup.class);
    private final Backup backup;
    private final Target target;
    private final List<String> tables;
    private final AtomicReference<CompletableFuture<BackupResult>> running = new AtomicReference<>();

    SafetyBackup(Backup backup, Target target, List<String> tables) {
        this.backup = backup;
        this.target = target;
        this.tables = tables;
    }

    /** Starts it, once (the archive's stream may ask again with every table). */
    synchronized void start() {
        if (!tables.isEmpty() && running.get() == null) {
            running.set(Background.supply("safety-backup-" + target.name(), () -> backup.run(target,
                    Backup.Request.safetyOf("pre-recover", tables, Duration.ofMinutes(10)), Progress.NONE)));
        }
    }

    /** The safety backup's file once it is verified; empty when none was needed. */
    Optional<Path> await() {
        CompletableFuture<BackupResult> future = running.get();
        if (future == null) {
            return Optional.empty();
        }
        try {
            BackupResult saved = future.join();
            log.info("recover {}: safety backup of {} taken: {}", target.name(), String.join(", ", tables),
                    saved.file());
            return Optional.of(saved.file());
        } catch (CompletionException e) {
            if (e.getCause() instanceof BackstopException be) {
                throw new BackstopException(be.code(), "the safety backup failed: " + be.getMessage(), be);
            }
            throw new BackstopException(ExitCode.INTERNAL, "the safety backup failed: " + e.getCause(), e.getCause());
        }
    }

    Optional<Path> awaitQuietly() {
        try {
            return await();
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }
}
