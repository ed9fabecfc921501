package io.backstop.pitr;

import io.backstop.Background;
import io.backstop.files.Durable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows a copy into a directory while another process (pg_basebackup) is still writing it: each file's
 * new bytes are read while they are still in memory, added to that file's CRC32C, and sent to disk. When
 * the copy ends, the fsync that makes it durable finds little left to write and the check against the
 * manifest needs no second read of the copy: reading it back later may come from disk, once the kernel
 * dropped the clean pages, and took longer than the copy itself.
 *
 * <p>This relies on the writer appending only (pg_basebackup's plain format writes each file once, front
 * to back): bytes below a file's size are final. A file that shrank since is read again from its start.
 * A file counts as on disk here only when it was fsynced after its last byte was read ({@link
 * Followed#synced}); the caller fsyncs every other file, and every directory.
 */
final class CopyFollower implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CopyFollower.class);
    private static final long PASS_MILLIS = 50;
    /** fsyncs at once: each waits on the disk, not a core, and the disk takes several faster than one by one. */
    static final int FSYNCS = 4;

    /**
     * What was read of one file: its first {@code bytes} bytes and their CRC32C; the first {@code synced}
     * bytes were fsynced after they were read.
     */
    static final class Followed {
        private final CRC32C crc = new CRC32C();
        private long bytes;
        private long synced;

        long bytes() {
            return bytes;
        }

        long synced() {
            return synced;
        }

        long crc() {
            return crc.getValue();
        }
    }

    private final Path root;
    private final Map<Path, Followed> files = new HashMap<>();
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
    private final Thread thread;
    private final ExecutorService fsyncs = Executors.newFixedThreadPool(FSYNCS, Background.threads("base-backup-fsync"));
    private volatile boolean stopped;

    private CopyFollower(Path root) {
        this.root = root;
        this.thread = Background.start("base-backup-follower", this::run);
    }

    /** Starts following the files under {@code root}, which may not exist yet. */
    static CopyFollower start(Path root) {
        return new CopyFollower(root);
    }

    private void run() {
        while (!stopped) {
            pass();
            synchronized (this) {
                if (!stopped) {
                    try {
                        wait(PASS_MILLIS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        }
    }

    /**
     * Reads what every file gained since the last pass and fsyncs it at once: the writing to disk keeps
     * pace with the copy (deferring it, even to when a file stops growing, measured slower here). The files
     * are read one after the other and sent to disk several at a time; the pass ends when all are.
     */
    private synchronized void pass() {
        if (!Files.isDirectory(root)) {
            return;
        }
        List<Path> grown = new ArrayList<>();
        try {
            // Sizes from the walk itself: only a file that grew since the last pass is opened.
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) {
                    Followed seen = files.get(root.relativize(f));
                    if (attrs.isRegularFile() && (seen == null || seen.bytes != attrs.size())) {
                        grown.add(f);
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path f, IOException e) {
                    return FileVisitResult.CONTINUE; // gone under the walk
                }
            });
        } catch (IOException e) {
            log.debug("following {}: {}", root, e.getMessage());
            return;
        }
        List<Future<?>> synced = new ArrayList<>();
        for (Path f : grown) {
            try {
                Followed seen = follow(f);
                if (seen != null) {
                    long read = seen.bytes;
                    synced.add(fsyncs.submit(() -> fsync(f, seen, read)));
                }
            } catch (NoSuchFileException gone) {
                files.remove(root.relativize(f));
            } catch (IOException e) {
                log.debug("following {}: {}", f, e.getMessage());
                files.remove(root.relativize(f)); // read again from its start, if asked for
            }
        }
        for (Future<?> s : synced) {
            try {
                s.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (ExecutionException e) {
                log.debug("following {}: {}", root, e.getCause().toString());
            }
        }
    }

    /**
     * Sends {@code f} to disk; its first {@code read} bytes count as on disk only when that worked (where
     * it did not, the caller's own fsync of the file fails as it should).
     */
    private static void fsync(Path f, Followed seen, long read) {
        try {
            Durable.fsync(f);
            seen.synced = read;
        } catch (IOException e) {
            log.debug("following {}: {}", f, e.getMessage());
        }
    }

    /** Reads what {@code f} gained into its CRC32C; what was read, or null when it did not grow. */
    private Followed follow(Path f) throws IOException {
        Path key = root.relativize(f);
        Followed seen = files.get(key);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            long size = ch.size();
            if (seen != null && size < seen.bytes) {
                seen = null; // rewritten: start over
            }
            if (seen == null) {
                seen = new Followed();
                files.put(key, seen);
            }
            if (size == seen.bytes) {
                return null;
            }
            while (seen.bytes < size) {
                buffer.clear().limit((int) Math.min(buffer.capacity(), size - seen.bytes));
                int n = ch.read(buffer, seen.bytes);
                if (n <= 0) {
                    break;
                }
                buffer.flip();
                seen.crc.update(buffer);
                seen.bytes += n;
            }
            return seen;
        }
    }

    /** How many bytes of {@code relative} were read so far (0: none, or not seen yet). */
    synchronized long read(Path relative) {
        Followed f = files.get(relative);
        return f == null ? 0 : f.bytes;
    }

    /**
     * Stops following, after one last pass over the finished copy; what was read of each file, by its
     * path under the root.
     */
    Map<Path, Followed> finish() {
        synchronized (this) {
            stopped = true;
            notifyAll();
        }
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pass();
        fsyncs.shutdown();
        return Map.copyOf(files);
    }

    /** Stops following without the last pass (the copy failed). */
    @Override
    public void close() {
        synchronized (this) {
            stopped = true;
            notifyAll();
        }
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        fsyncs.shutdown();
    }
}
