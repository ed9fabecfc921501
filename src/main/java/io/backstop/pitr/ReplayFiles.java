package io.backstop.pitr;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.files.Durable;
import io.backstop.files.Sweep;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/** The files a replay starts from: the base backup's, and the archive's WAL, each copy checked. */
final class ReplayFiles {
    private ReplayFiles() {
    }

    /** A step that may fail reading or writing files. */
    interface FileStep {
        void run() throws IOException;
    }

    /**
     * Where a replay's files go: the base backup into {@code data} (its own WAL segments too when {@code
     * withOwnWal}), the WAL the replay reads into {@code wal}, on disk when {@code durableWal}.
     */
    record Layout(Path data, boolean withOwnWal, Path wal, boolean durableWal) {
        /** The drill's and restore's throwaway cluster: the WAL beside it, read by its restore_command; fsync off. */
        static Layout throwaway(Path scratch) {
            return new Layout(scratch.resolve("data"), true, scratch.resolve("wal"), false);
        }

        /** A data directory handed over: the archive's WAL in its own pg_wal, made durable. */
        static Layout dataDirectory(Path dir) {
            return new Layout(dir, false, dir.resolve("pg_wal"), true);
        }
    }

    /**
     * The base backup's copy as {@code layout} says ({@code started}, for {@code plan}'s base backup), then
     * {@code afterBase}, while the WAL the replay needs is copied and checked beside it, then {@code afterWal}:
     * two at once, on two cores. What either failed with is thrown once both ended.
     */
    static void copyBeside(String targetName, Path targetDir, Replay.Plan plan, Layout layout, BaseCopy started,
            FileStep afterBase, FileStep afterWal) throws IOException {
        java.util.concurrent.CompletableFuture<Void> walCopy = io.backstop.Background.supply("replay-wal-copy", () -> {
            copyWal(targetName, targetDir, plan, layout.wal(), layout.durableWal());
            afterWal.run();
            return null;
        });
        try {
            started.await();
            afterBase.run();
        } finally {
            walCopy.exceptionally(e -> null).join();
        }
        io.backstop.Background.joinIo(walCopy);
    }

    /**
     * The base backup's files into {@code data}; its own WAL segments too when {@code withWal}. By {@code cp -a}
     * where it is here: the kernel copies (copy_file_range, or shares the blocks on a filesystem that can) a
     * thousand files in half the time the JDK takes to copy them one by one.
     */
    static void copyBase(Path base, Path data, boolean withWal, java.util.function.Consumer<Process> onStart)
            throws IOException {
        Files.createDirectories(data);
        Path ownWal = base.resolve("pg_wal");
        List<String> entries = new ArrayList<>();
        try (Stream<Path> top = Files.list(base)) {
            for (Path p : top.toList()) {
                if (withWal || !p.equals(ownWal)) {
                    entries.add(p.toAbsolutePath().toString());
                }
            }
        }
        Optional<Path> cp = Stream.of(Path.of("/bin/cp"), Path.of("/usr/bin/cp")).filter(Files::isExecutable).findFirst();
        if (cp.isEmpty() || entries.isEmpty()) {
            copyTree(base, base, data, withWal);
            return;
        }
        List<String> command = new ArrayList<>(List.of(cp.get().toString(), "-a", "--"));
        command.addAll(entries); // absolute: none is taken for an option
        command.add(data.toAbsolutePath().toString());
        ProcessRunner.Result copied = new ProcessRunner().run(ProcessRunner.Spec.of(command, java.util.Map.of(),
                java.time.Duration.ofHours(6)), onStart);
        if (copied.exitCode() != 0) {
            throw new IOException("cp -a " + base + " " + data + " failed (exit " + copied.exitCode() + "): "
                    + copied.stderrTail().strip());
        }
        if (!withWal && Files.isDirectory(ownWal)) {
            copyTree(base, ownWal, data, false); // pg_wal without its segments: the archive's copies are written there
        }
    }

    /**
     * A base backup's copy into a layout's data directory, on a thread of its own: a data directory's begins
     * before the rest of the replay is planned (reading the WAL for the point's commit takes a tenth of a second
     * or more), and {@link #cancel} stops it when the plan refuses the point.
     */
    static final class BaseCopy {
        private final java.util.concurrent.CompletableFuture<Void> done;
        private final java.util.concurrent.atomic.AtomicReference<Process> cp = new java.util.concurrent.atomic.AtomicReference<>();
        private volatile boolean cancelled;
        final Path baseDir;

        private BaseCopy(Path baseDir, Layout layout) {
            this.baseDir = baseDir;
            this.done = io.backstop.Background.supply("replay-base-copy", () -> {
                copyBase(baseDir, layout.data(), layout.withOwnWal(), p -> {
                    cp.set(p);
                    if (cancelled) {
                        p.destroyForcibly(); // cancelled while it started
                    }
                });
                return null;
            });
        }

        static BaseCopy start(Path baseDir, Layout layout) {
            return new BaseCopy(baseDir, layout);
        }

        /** Waits for the copy; what it failed with. */
        void await() throws IOException {
            io.backstop.Background.joinIo(done);
        }

        /** Stops the copy and waits until it has: what it wrote is then the caller's to remove. */
        void cancel() {
            cancelled = true;
            Process p = cp.get();
            if (p != null) {
                ProcessRunner.kill(p);
            }
            done.exceptionally(e -> null).join();
        }

        /** {@code copy} (if one began) stopped, and {@code dir} emptied: nothing half-written is left to start. */
        static void abandon(BaseCopy copy, Path dir) {
            if (copy != null) {
                copy.cancel();
            }
            emptyQuietly(dir);
        }
    }

    /** The JDK's copy of {@code from} (the base backup {@code base} or a directory in it) to the same place in {@code data}. */
    private static void copyTree(Path base, Path from, Path data, boolean withWal) throws IOException {
        Path ownWal = base.resolve("pg_wal");
        try (Stream<Path> all = Files.walk(from)) {
            for (Path p : all.toList()) {
                Path to = data.resolve(base.relativize(p).toString());
                if (!withWal && ownWal.equals(p.getParent()) && Wal.isSegment(p.getFileName().toString())) {
                    continue;
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
     * not be allowed into the archive. The plan's segments, and every timeline history file; on disk when
     * {@code durable}.
     */
    static void copyWal(String targetName, Path targetDir, Replay.Plan plan, Path into, boolean durable)
            throws IOException {
        WalArchive archive = new WalArchive(targetDir);
        Files.createDirectories(into);
        List<Path> copies = new ArrayList<>();
        for (long s = plan.from(); s <= plan.to(); s++) {
            Optional<Path> f = Segments.segmentFile(archive, s, plan.segmentSize());
            try {
                if (f.isPresent()) {
                    copies.add(copy(f.get(), into, Segments.name(f.get())));
                }
            } catch (java.nio.file.NoSuchFileException recordedMeanwhile) {
                // pg_receivewal finished it or the daemon recorded it since: it is where the archive says now
                f = Segments.segmentFile(new WalArchive(targetDir), s, plan.segmentSize());
                if (f.isPresent()) {
                    copies.add(copy(f.get(), into, Segments.name(f.get())));
                }
            }
        }
        for (WalArchive.Entry e : archive.entries()) {
            if (e.name().endsWith(".history")) {
                copies.add(copy(archive.dir().resolve(e.name()), into, e.name()));
            }
        }
        // A data directory's WAL goes to disk while it is checked: the new server's start would otherwise fsync
        // it first (every file of a base backup's directory is, before its replay begins), on the critical path.
        java.util.Set<Path> copied = java.util.Set.copyOf(copies);
        java.util.concurrent.CompletableFuture<Void> synced = durable ? io.backstop.Background.supply(
                "replay-wal-fsync", () -> {
                    Durable.fsyncTree(into, (p, size) -> copied.contains(p), 4);
                    return null;
                }) : java.util.concurrent.CompletableFuture.completedFuture(null);
        try {
            checkCopies(targetName, targetDir, plan, into);
        } finally {
            synced.exceptionally(e -> null).join();
        }
        io.backstop.Background.joinIo(synced);
    }

    /** {@code from} as {@code name} in {@code dir} (an earlier copy of it replaced); returns the copy. */
    private static Path copy(Path from, Path dir, String name) throws IOException {
        return Files.copy(from, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
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
        List<Path> copies = recorded.stream().map(e -> into.resolve(e.name())).toList();
        java.util.Map<Path, String> sha256 = io.backstop.files.Hashing.sha256Each(copies,
                Math.max(1, Runtime.getRuntime().availableProcessors() - 1)); // the base backup is copied on the other core
        List<String> damaged = new ArrayList<>();
        for (int i = 0; i < recorded.size(); i++) {
            WalArchive.Entry e = recorded.get(i);
            if (Files.size(copies.get(i)) != e.size() || !sha256.get(copies.get(i)).equals(e.sha256())) {
                damaged.add("WAL segment " + e.name() + " no longer matches its recorded checksum");
            }
        }
        if (!damaged.isEmpty()) {
            throw new BackstopException(ExitCode.BAD_BACKUP, "the replay of " + targetName + " (" + plan.point() + ")"
                    + " needs WAL the archive cannot give: " + String.join("; ", damaged));
        }
    }

    /**
     * A data directory's base backup checked against its manifest with pg_verifybackup, by whichever ends first:
     * the copy of the base backup, or the copy and check of the WAL beside it. The first checks the checksums:
     * of the copy once it is complete, or of the stored base backup while cp still copies it, on the core the
     * WAL's check leaves free (0.15 s sooner on two cores). The copy is always checked for every file and its
     * size; cp copies each byte it reads or fails. A damaged stored base backup is named as such either way.
     */
    static final class BaseCheck {
        private final PgTools tools;
        private final Replay.Plan plan;
        private final Path copy;
        private final AtomicBoolean claimed = new AtomicBoolean();

        BaseCheck(PgTools tools, Replay.Plan plan, Path copy) {
            this.tools = tools;
            this.plan = plan;
            this.copy = copy;
        }

        /** After the WAL's copy and check: the stored base backup's checksums, unless its copy is complete. */
        void whileCopying() {
            if (claimed.compareAndSet(false, true)) {
                checkStored();
            }
        }

        /** After the copy: its files and sizes; their checksums too unless the stored backup's were taken. */
        void copied() {
            boolean checksums = claimed.compareAndSet(false, true);
            ProcessRunner.Result checked = new ProcessRunner().run(checksums
                    ? ManifestChecksums.pgVerifybackup(tools, copy, "--no-parse-wal")
                    : ManifestChecksums.pgVerifybackup(tools, copy, "--no-parse-wal", "--skip-checksums"), p -> { });
            if (checked.exitCode() != 0) {
                checkStored(); // a damaged stored backup: named as such, not as a bad copy
                throw new BackstopException(ExitCode.DUMP_FAILED, "the copy of base backup " + plan.base().name()
                        + " in " + copy + " does not match its manifest: " + checked.stderrTail().strip());
            }
        }

        private void checkStored() {
            ProcessRunner.Result checked = new ProcessRunner().run(ManifestChecksums.pgVerifybackup(tools,
                    plan.baseDir(), "--no-parse-wal"), p -> { });
            if (checked.exitCode() != 0) {
                throw new BackstopException(ExitCode.BAD_BACKUP, "base backup " + plan.base().name() + " in "
                        + plan.baseDir() + " does not match its manifest: "
                        + checked.stderrTail().strip());
            }
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
