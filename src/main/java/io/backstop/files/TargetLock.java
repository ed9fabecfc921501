package io.backstop.files;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.files.Durable;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The per-target lock that keeps two backups of one target apart, whether they run in the
 * daemon, the CLI or both. Two halves, because POSIX record locks belong to the process, not
 * to a channel or thread: closing <em>any</em> channel on the file releases the lock another
 * thread of the same process holds (that is how a 409 once dropped the daemon's lock). So
 * within this process one semaphore per lock file decides who goes, and only its holder ever
 * opens the file; across processes an OS file lock on {@code <target>/.lock} does, released by
 * the kernel when the holder dies, so a SIGKILLed process never leaves a stale lock behind.
 * The semaphores are process-wide by nature (so is the OS lock they guard), hence static.
 *
 * <p>In a fleet a third half sits between the two: file locks on a volume shared by several hosts are not to
 * be trusted, so the lock is also held in the fleet's database ({@link #across}), by this process as a whole,
 * and released by the server when this process's connection ends, however it ends.
 */
public final class TargetLock implements AutoCloseable {
    private static final ConcurrentHashMap<Path, Semaphore> IN_PROCESS = new ConcurrentHashMap<>();

    private static volatile Across across;

    /** The fleet's half: a lock named {@code key} held across hosts until the returned handle is closed. */
    @FunctionalInterface
    public interface Across {
        /** Holds {@code key} (of {@code target}), waiting until {@code deadlineNanos}; BUSY when it stays held. */
        AutoCloseable hold(String key, String target, long deadlineNanos);
    }

    /** From now on every lock of this process is also held across the fleet by {@code fleet}. */
    public static void across(Across fleet) {
        across = fleet;
    }

    private final Semaphore local;
    private final AutoCloseable fleet;
    private final FileChannel channel;
    private final FileLock lock;
    private boolean closed;

    private TargetLock(Semaphore local, AutoCloseable fleet, FileChannel channel, FileLock lock) {
        this.local = local;
        this.fleet = fleet;
        this.channel = channel;
        this.lock = lock;
    }

    /** Takes the lock, waiting up to {@code wait}; fails with {@link ExitCode#BUSY} when it stays held. */
    public static TargetLock acquire(Path lockFile, String target, Duration wait) {
        Durable.createDirectories(lockFile.getParent());
        Path key = lockFile.toAbsolutePath().normalize();
        Semaphore local = IN_PROCESS.computeIfAbsent(key, k -> new Semaphore(1));
        long deadline = System.nanoTime() + wait.toNanos();
        try {
            if (!local.tryAcquire(Math.max(0, wait.toNanos()), TimeUnit.NANOSECONDS)) {
                throw busy(lockFile, target);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BackstopException(ExitCode.INTERRUPTED, "interrupted while waiting for the lock of target " + target, e);
        }
        FileChannel channel = null;
        AutoCloseable fleet = null;
        try {
            Across a = across;
            if (a != null) {
                fleet = a.hold(key.getParent().getFileName() + "/" + key.getFileName(), target, deadline);
            }
            channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            while (true) {
                FileLock lock = channel.tryLock();
                if (lock != null) {
                    return new TargetLock(local, fleet, channel, lock);
                }
                if (System.nanoTime() >= deadline) {
                    throw busy(lockFile, target);
                }
                Thread.sleep(100);
            }
        } catch (IOException e) {
            release(channel, fleet, local);
            throw Durable.storageError("cannot lock " + lockFile, e);
        } catch (InterruptedException e) {
            release(channel, fleet, local);
            Thread.currentThread().interrupt();
            throw new BackstopException(ExitCode.INTERRUPTED, "interrupted while waiting for the lock of target " + target, e);
        } catch (RuntimeException e) {
            release(channel, fleet, local);
            throw e;
        }
    }

    private static BackstopException busy(Path lockFile, String target) {
        return new BackstopException(ExitCode.BUSY, "another backup of target " + target + " is running (lock "
                + lockFile + " is held); wait for it to finish and try again, or pass --wait SECONDS to wait for it");
    }

    /** Only the semaphore's holder ever gets here, so closing this channel releases no one else's lock. */
    private static void release(FileChannel channel, AutoCloseable fleet, Semaphore local) {
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException ignored) {
            // closing releases the lock; nothing more to do
        } finally {
            try {
                if (fleet != null) {
                    fleet.close();
                }
            } catch (Exception ignored) {
                // the fleet's lock ends with its connection, which closing ended
            } finally {
                local.release();
            }
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            lock.release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        release(channel, fleet, local);
    }
}
