package io.backstop.backup;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;

/**
 * The per-target lock that keeps two backups of one target apart, whether they run in the
 * daemon, the CLI or both: an OS file lock on {@code <target>/.lock}, released by the kernel
 * when the holder dies, so a SIGKILLed process never leaves a stale lock behind.
 */
public final class TargetLock implements AutoCloseable {
    private final FileChannel channel;
    private final FileLock lock;

    private TargetLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /** Takes the lock, waiting up to {@code wait}; fails with {@link ExitCode#BUSY} when it stays held. */
    public static TargetLock acquire(Path lockFile, String target, Duration wait) {
        Durable.createDirectories(lockFile.getParent());
        FileChannel channel;
        try {
            channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw Durable.storageError("cannot open lock file " + lockFile, e);
        }
        long deadline = System.nanoTime() + wait.toNanos();
        try {
            while (true) {
                FileLock lock;
                try {
                    lock = channel.tryLock();
                } catch (OverlappingFileLockException e) {
                    lock = null; // held by another thread of this JVM
                }
                if (lock != null) {
                    return new TargetLock(channel, lock);
                }
                if (System.nanoTime() >= deadline) {
                    channel.close();
                    throw new BackstopException(ExitCode.BUSY, "another backup of target " + target
                            + " is running (lock " + lockFile + " is held); wait for it to finish and try again");
                }
                Thread.sleep(200);
            }
        } catch (IOException e) {
            closeQuietly(channel);
            throw Durable.storageError("cannot lock " + lockFile, e);
        } catch (InterruptedException e) {
            closeQuietly(channel);
            Thread.currentThread().interrupt();
            throw new BackstopException(ExitCode.INTERRUPTED, "interrupted while waiting for the lock of target " + target, e);
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing held
        }
    }

    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        closeQuietly(channel);
    }
}
