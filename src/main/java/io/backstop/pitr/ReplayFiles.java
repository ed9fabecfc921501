package io.backstop.pitr;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.files.Sweep;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/** The files a replay starts from: the base backup's, and the archive's WAL, each copy checked. */
final class ReplayFiles {
    private ReplayFiles() {
    }

    /** The base backup's files into {@code data}; its own WAL segments too when {@code withWal}. */
    static void copyBase(Path base, Path data, boolean withWal) throws IOException {
        Path ownWal = base.resolve("pg_wal");
        try (Stream<Path> all = Files.walk(base)) {
            for (Path p : all.toList()) {
                Path to = data.resolve(base.relativize(p).toString());
                if (!withWal && p.getParent().equals(ownWal) && Wal.isSegment(p.getFileName().toString())) {
                    continue; // the archive's copy of it is written there
                }
                if (Files.isDirectory(p)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(p, to, StandardCopyOption.COPY_ATTRIBUTES, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    /**
     * The WAL the replay reads, copied beside the cluster: the server reads it as its own user, which may
     * not be allowed into the archive. The plan's segments, and every timeline history file.
     */
    static void copyWal(String targetName, Path targetDir, Replay.Plan plan, Path into) throws IOException {
        WalArchive archive = new WalArchive(targetDir);
        Files.createDirectories(into);
        for (long s = plan.from(); s <= plan.to(); s++) {
            Optional<Path> f = Segments.segmentFile(archive, s, plan.segmentSize());
            try {
                if (f.isPresent()) {
                    Files.copy(f.get(), into.resolve(Segments.name(f.get())), StandardCopyOption.REPLACE_EXISTING);
                }
            } catch (java.nio.file.NoSuchFileException recordedMeanwhile) {
                // pg_receivewal finished it or the daemon recorded it since: it is where the archive says now
                f = Segments.segmentFile(new WalArchive(targetDir), s, plan.segmentSize());
                if (f.isPresent()) {
                    Files.copy(f.get(), into.resolve(Segments.name(f.get())), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        for (WalArchive.Entry e : archive.entries()) {
            if (e.name().endsWith(".history")) {
                Files.copy(archive.dir().resolve(e.name()), into.resolve(e.name()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        checkCopies(targetName, targetDir, plan, into);
    }

    /**
     * Every copied segment the archive recorded, against its recorded size and sha256, hashed from the copy
     * (just written: from memory) on every core: what the replay reads is what was received. One not
     * matching is named, and nothing is replayed.
     */
    private static void checkCopies(String targetName, Path targetDir, Replay.Plan plan, Path into)
            throws IOException {
        List<WalArchive.Entry> recorded = new ArrayList<>();
        for (WalArchive.Entry e : new WalArchive(targetDir).entries()) {
            if (Wal.isSegment(e.name()) && Files.exists(into.resolve(e.name()))
                    && Wal.segno(e.name(), plan.segmentSize()) >= plan.from()
                    && Wal.segno(e.name(), plan.segmentSize()) <= plan.to()) {
                recorded.add(e);
            }
        }
        int threads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads,
                io.backstop.Background.threads("wal-check"));
        try {
            List<java.util.concurrent.Future<Boolean>> checks = new ArrayList<>();
            for (WalArchive.Entry e : recorded) {
                Path copy = into.resolve(e.name());
                checks.add(pool.submit(() -> Files.size(copy) == e.size()
                        && io.backstop.files.Hashing.sha256(copy).equals(e.sha256())));
            }
            List<String> damaged = new ArrayList<>();
            for (int i = 0; i < checks.size(); i++) {
                try {
                    if (!checks.get(i).get()) {
                        damaged.add("WAL segment " + recorded.get(i).name() + " no longer matches its recorded checksum");
                    }
                } catch (java.util.concurrent.ExecutionException e) {
                    throw new IOException("checking " + recorded.get(i).name() + ": " + e.getCause().getMessage(),
                            e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new BackstopException(ExitCode.INTERRUPTED, "interrupted while checking the WAL", e);
                }
            }
            if (!damaged.isEmpty()) {
                throw new BackstopException(ExitCode.BAD_BACKUP, "the replay of " + targetName + " (" + plan.point() + ")"
                        + " needs WAL the archive cannot give: " + String.join("; ", damaged));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    static void emptyQuietly(Path dir) {
        try (Stream<Path> inside = Files.list(dir)) {
            for (Path p : inside.toList()) {
                Sweep.deleteTree(p);
            }
        } catch (IOException ignored) {
            // what is left is named by the error the caller sees
        }
    }
}
