package io.backstop.files;

import io.backstop.Background;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.files.ProcessOwner;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BiPredicate;
import java.util.stream.Stream;

/** Crash-safe file operations: a file with its final name is complete, on disk, and its directory knows it. */
public final class Durable {
    /** What every temporary file Backstop writes starts with: sweeps and listings know them by it. */
    public static final String TEMP_PREFIX = ".backstop-tmp-";

    private Durable() {
    }

    public static void fsync(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    public static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /**
     * Sends to disk every file under {@code root} that {@code needed} accepts (given its path and size), {@code
     * parallel} at a time (each fsync waits on the disk, not on a core, and a disk takes several faster than one
     * after another), then every directory under it, {@code root} included. Returns the size of all the files
     * there, in bytes. A file that cannot be sent to disk fails it, named.
     */
    public static long fsyncTree(Path root, BiPredicate<Path, Long> needed, int parallel) throws IOException {
        List<Path> dirs = new ArrayList<>();
        List<Path> files = new ArrayList<>();
        long total = 0;
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.toList()) {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                if (a.isDirectory()) {
                    dirs.add(p);
                } else if (a.isRegularFile()) {
                    total += a.size();
                    if (needed.test(p, a.size())) {
                        files.add(p);
                    }
                }
            }
        }
        if (!files.isEmpty()) {
            ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(parallel, files.size())),
                    Background.threads("fsync"));
            try {
                List<Future<Void>> synced = new ArrayList<>();
                for (Path f : files) {
                    synced.add(pool.submit(() -> {
                        fsync(f);
                        return null;
                    }));
                }
                for (Future<Void> s : synced) {
                    s.get();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while sending " + root + " to disk");
            } catch (ExecutionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                throw new IllegalStateException(e.getCause());
            } finally {
                pool.shutdownNow();
            }
        }
        for (Path d : dirs) {
            fsyncDirectory(d);
        }
        return total;
    }

    /** Renames {@code from} to {@code to} atomically and fsyncs the directory. */
    public static void rename(Path from, Path to) throws IOException {
        Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        fsyncDirectory(to.getParent());
    }

    /**
     * A temporary name in the same directory as {@code target}, so the final rename is atomic. The
     * name carries its writer (pid and start time): a sweep removes only temporaries whose writer
     * is gone, so a state, manifest or link written by a live process under another lock is never
     * taken from under it.
     */
    public static Path temporarySibling(Path target) {
        return target.resolveSibling(TEMP_PREFIX + target.getFileName() + "-" + ProcessOwner.current() + "-"
                + UUID.randomUUID().toString().substring(0, 8));
    }

    /**
     * Whether the process that named this temporary (see {@link #temporarySibling}) still runs.
     * A name without a writer (an older Backstop's) has none that could still be writing.
     */
    public static boolean writerAlive(Path temporary) {
        String[] parts = temporary.getFileName().toString().split("-");
        return parts.length >= 3 && ProcessOwner.alive(parts[parts.length - 2]);
    }

    /** Creates a new, empty, owner-only file (dumps are not world-readable). */
    public static Path createPrivate(Path file) throws IOException {
        return Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    }

    public static void writeAtomically(Path file, byte[] content) throws IOException {
        Path tmp = temporarySibling(file);
        try {
            createPrivate(tmp);
            Files.write(tmp, content, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
            fsync(tmp);
            rename(tmp, file);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Directories for backups: owner and group only. */
    public static void createDirectories(Path dir) {
        try {
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-x---")));
            }
        } catch (IOException e) {
            throw storageError("cannot create backup directory " + dir, e);
        }
    }

    private static final Set<String> FULL = Set.of("No space left on device", "Disk quota exceeded");

    /** An I/O failure as the operator needs to hear it: which path, and whether the disk is full or unwritable. */
    public static BackstopException storageError(String what, IOException e) {
        String reason = e instanceof FileSystemException fse && fse.getReason() != null ? fse.getReason()
                : String.valueOf(e.getMessage());
        String hint;
        if (FULL.stream().anyMatch(reason::contains)) {
            hint = "the disk is full: free space or lower retention";
        } else if (e instanceof AccessDeniedException || reason.contains("Permission denied")
                || reason.contains("Read-only file system")) {
            hint = "the directory is not writable by user " + System.getProperty("user.name") + ": fix ownership or mount it read-write";
        } else {
            hint = e.getClass().getSimpleName();
        }
        return new BackstopException(ExitCode.STORAGE, what + ": " + reason + " (" + hint + ")", e);
    }

}
