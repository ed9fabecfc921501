package io.backstop.backup;

import io.backstop.Background;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Manifests;
import io.backstop.catalog.ServerInfo;
import io.backstop.catalog.Tier;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.files.DigestingOutputStream;
import io.backstop.files.Durable;
import io.backstop.files.Sizes;
import io.backstop.files.TargetLock;
import io.backstop.pg.CountedTable;
import io.backstop.pg.Database;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import io.backstop.pg.RowCounter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes one verified, snapshot-consistent backup of a target. The CLI, the scheduler and the
 * HTTP trigger all call {@link #run}; they differ only in how they present the result.
 *
 * <p>The path: lock the target; sweep leftovers; connect and check pg_dump can read the
 * server; open a REPEATABLE READ transaction and export its snapshot; run pg_dump on that
 * snapshot into a temporary file while counting rows in the same snapshot; verify the
 * archive; fsync; write the manifest; rename the dump to its final name; fsync the directory;
 * move {@code latest.dump}. Any failure removes the temporary file and leaves every earlier
 * backup as it was.
 */
public final class Backup {
    private static final Logger log = LoggerFactory.getLogger(Backup.class);
    private static final String EXPORT_SNAPSHOT = "SELECT pg_export_snapshot()";

    private final Settings settings;
    private final BackupLayout layout;
    private final PgTools tools;
    private final Manifests manifests;
    private final RowCounter counter;
    private final Clock clock;

    public Backup(Settings settings, BackupLayout layout, PgTools tools, Manifests manifests, RowCounter counter,
            Clock clock) {
        this.settings = settings;
        this.layout = layout;
        this.tools = tools;
        this.manifests = manifests;
        this.counter = counter;
        this.clock = clock;
    }

    /** What to take: a label makes it a manual backup; {@code lockWait} is how long to wait for a running one. */
    public record Request(Optional<String> label, Duration lockWait, boolean safety, List<String> tables) {
        public Request {
            tables = List.copyOf(tables);
        }

        public Request(Optional<String> label, Duration lockWait) {
            this(label, lockWait, false, List.of());
        }

        public Request(Optional<String> label, Duration lockWait, boolean safety) {
            this(label, lockWait, safety, List.of());
        }

        /** A safety backup of only {@code tables} (server-quoted names), before an undo changes them. */
        public static Request safetyOf(String label, List<String> tables, Duration lockWait) {
            return new Request(Optional.of(label), lockWait, true, tables);
        }

        public static Request scheduled() {
            return new Request(Optional.empty(), Duration.ZERO);
        }

        /** A backup taken just before something destructive: safety tier, never latest. */
        public static Request safety(String label, Duration lockWait) {
            return new Request(Optional.of(label), lockWait, true);
        }

        public Tier tier() {
            return safety ? Tier.SAFETY : label.isPresent() ? Tier.MANUAL : Tier.HOURLY;
        }
    }

    /** Fails now when pg_dump or pg_restore is missing: the daemon checks this before scheduling anything. */
    public void checkTools() {
        tools.pgDump();
        tools.pgRestore();
    }

    public BackupResult run(Target target, Request request, Progress progress) {
        request.label().ifPresent(l -> {
            if (!BackupLayout.LABEL.matcher(l).matches()) {
                throw new BackstopException(ExitCode.USAGE, "--label \"" + l + "\": allowed are 1-63 letters, digits,"
                        + " '.', '_' or '-', starting with a letter or digit");
            }
        });
        Path pgDump = tools.pgDump(); // fail fast, before touching the database or the disk
        try (TargetLock lock = TargetLock.acquire(layout.lockFile(target.name()), target.name(), request.lockWait())) {
            sweep(target.name());
            return runLocked(target, request, pgDump, progress);
        }
    }

    private BackupResult runLocked(Target target, Request request, Path pgDump, Progress progress) {
        Tier tier = request.tier();
        Path dir = layout.tierDir(target.name(), tier);
        Durable.createDirectories(dir);
        Instant started = clock.instant();
        Compression compression = Compression.of(settings.pgDump().compress(), tools.dumpVersion());
        boolean encrypt = settings.encryption().localEncrypted();
        Path finalFile = freeName(target.name(), tier, started, request.label(),
                compression.suffix() + (encrypt ? BackupLayout.AGE_SUFFIX : ""));
        // The plain dump's temporary is named as the plain file: it is verified (and read) as plain bytes.
        Path tmp = Durable.temporarySibling(encrypt ? finalFile.resolveSibling(finalFile.getFileName().toString()
                .substring(0, finalFile.getFileName().toString().length() - BackupLayout.AGE_SUFFIX.length()))
                : finalFile);
        Path encrypted = null;
        long startNanos = System.nanoTime();
        log.info("backup {} started: {} tier, {}", target.name(), tier.dir(), target.describe());

        Database db = new Database(target);
        ProcessRunner runner = new ProcessRunner();
        try (Database.PasswordFile passfile = db.passwordFile(); Connection snapshotConnection = db.connect()) {
            Database.lockTimeout(snapshotConnection, settings.pgDump().lockWaitTimeout());
            ServerInfo server = ServerInfo.read(snapshotConnection);
            tools.requireDumpCanRead(server.version());
            String snapshot = exportSnapshot(snapshotConnection);
            Settings.RowCounts which = request.tables().isEmpty() ? settings.rowCounts()
                    : new Settings.RowCounts(request.tables(), List.of(), settings.rowCounts().dropThreshold(),
                            Map.of(), settings.rowCounts().checkInterval(), settings.rowCounts().estimateAbove());
            List<CountedTable> tables = counter.resolve(snapshotConnection, which);

            createTemporary(tmp);
            CompletableFuture<Map<String, Long>> counts = countInBackground(target, snapshotConnection, tables);
            Verifier verifier = new Verifier(tools, runner);
            AtomicBoolean dumpDone = new AtomicBoolean();
            Tee tee = compression.stream() ? new Tee() : null;
            Verifier.FullRead fullRead = tee != null
                    ? verifier.startFullRead(tee::drainTo, finalFile.getFileName().toString(), settings.pgDump().timeout())
                    : verifier.startFullRead(tmp, dumpDone::get, settings.pgDump().timeout());
            Dumped dumped;
            try (Progress.Watch watch = Progress.watch(tmp, "dump", "backup-progress-" + target.name(),
                    Duration.ofSeconds(1), progress)) {
                dumped = dump(target, db, passfile, runner, pgDump, snapshot, tmp, request.tables(), compression, tee);
            } catch (RuntimeException e) {
                fullRead.cancel();
                counts.cancel(true);
                throw e;
            } finally {
                dumpDone.set(true);
            }
            Map<String, Long> rowCounts = awaitCounts(target, counts);
            snapshotConnection.commit();

            long verifyStart = System.nanoTime();
            Verifier.Verified verified = verifier.finish(tmp, tables, settings.pgDump().timeout(),
                    ExitCode.DUMP_FAILED, fullRead, dumped.sha256());
            Duration verifyTime = Duration.ofNanos(System.nanoTime() - verifyStart);

            // Verified in full as plain bytes: only now encrypted (encryption.local), and what is kept is that.
            Path kept = tmp;
            String sha256 = verified.sha256();
            if (encrypt) {
                encrypted = Durable.temporarySibling(finalFile);
                io.backstop.crypt.Age.Encrypted written = io.backstop.crypt.Age.encryptFile(tmp, encrypted,
                        settings.encryption().recipients(), true); // the manifest's sha256 is the ciphertext's
                if (!written.plainSha256().equals(sha256)) {
                    throw new BackstopException(ExitCode.STORAGE, tmp + " changed on disk between its verification"
                            + " and its encryption (sha256 " + written.plainSha256() + ", verified " + sha256
                            + "); nothing was kept");
                }
                sha256 = written.sha256().orElseThrow();
                deleteQuietly(tmp);
                kept = encrypted;
            }
            long size = Files.size(kept);
            Durable.fsync(kept);
            Instant finished = clock.instant();
            Duration duration = Duration.ofNanos(System.nanoTime() - startNanos);
            Manifest manifest = Manifest.builder().sequence(nextSequence(target.name())).target(target.name())
                    .database(target.database()).host(target.host()).port(target.port())
                    .serverVersion(server.version().text()).pgDumpVersion(tools.dumpVersion().text())
                    .systemIdentifier(server.systemIdentifier()).databaseOid(server.databaseOid())
                    .file(finalFile.getFileName().toString()).tier(tier).label(request.label().orElse(null))
                    .startedAt(started).finishedAt(finished).durationSeconds(duration.toMillis() / 1000.0)
                    .sizeBytes(size).sha256(sha256)
                    .compress(compression.describe() + (encrypt ? "; encrypted with age" : "")).rowCounts(rowCounts)
                    .verification(new Manifest.Verification(Verifier.METHOD, "passed", finished,
                            verified.tableDataEntries()))
                    .countMethod(Manifest.COUNT_METHOD).fileModifiedAt(Files.getLastModifiedTime(kept).toInstant())
                    .databaseSizeBytes(server.databaseSizeBytes()).build();
            // Manifest first: a crash between the two renames leaves an orphan manifest (swept at start),
            // never a final dump without one.
            manifests.write(finalFile, manifest);
            Durable.rename(kept, finalFile);

            log.info("backup {} finished: {}, {} tables, {} rows, {} (dump {}, verify {}) -> {}", target.name(),
                    Sizes.bytes(size), rowCounts.size(), String.format("%,d", manifest.totalRows()), Sizes.seconds(duration),
                    Sizes.seconds(dumped.elapsed()), Sizes.seconds(verifyTime), finalFile);
            return new BackupResult(finalFile, manifest, size, duration, rowCounts, dumped.elapsed(), verifyTime);
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DUMP_FAILED, "backup of target " + target.name() + " failed: "
                    + runner.redact(e.getMessage()), e);
        } catch (IOException e) {
            throw Durable.storageError("backup of target " + target.name() + " failed", e);
        } finally {
            deleteQuietly(tmp);
            if (encrypted != null) {
                deleteQuietly(encrypted);
            }
        }
    }

    /** One more than the highest sequence on disk: creation order that does not trust the clock. */
    private long nextSequence(String target) {
        return new Catalog(layout, manifests).list(target).stream()
                .flatMap(e -> e.manifest().stream())
                .mapToLong(Manifest::sequence).max().orElse(0) + 1;
    }

    private static String exportSnapshot(Connection c) throws SQLException {
        c.setAutoCommit(false);
        c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        c.setReadOnly(true);
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(EXPORT_SNAPSHOT)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private CompletableFuture<Map<String, Long>> countInBackground(Target target, Connection c, List<CountedTable> tables) {
        return Background.supply("row-counts-" + target.name(),
                () -> counter.count(c, tables, settings.pgDump().timeout()));
    }

    private static Map<String, Long> awaitCounts(Target target, CompletableFuture<Map<String, Long>> counts) {
        try {
            return counts.join();
        } catch (CompletionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof BackstopException be) {
                throw be;
            }
            throw new BackstopException(ExitCode.DUMP_FAILED, "counting rows of target " + target.name() + " failed: "
                    + cause.getMessage(), cause);
        }
    }

    /** pg_dump's run: how long it took, and the file's sha256 when it was hashed as it was written. */
    private record Dumped(Duration elapsed, Optional<String> sha256) {
    }

    private Dumped dump(Target target, Database db, Database.PasswordFile passfile, ProcessRunner runner, Path pgDump,
            String snapshot, Path tmp, List<String> only, Compression compression, Tee tee) {
        List<String> command = new ArrayList<>(List.of(pgDump.toString(),
                "--format=custom",
                "--compress=" + compression.pgDumpArgument(),
                "--snapshot=" + snapshot,
                "--lock-wait-timeout=" + settings.pgDump().lockWaitTimeout().toMillis(),
                "--no-password"));
        if (tee == null) {
            command.add("--file=" + tmp); // else stdout (pg_dump has no "-" for it: that would be a file named -)
        }
        command.addAll(settings.pgDump().extraArgs());
        only.forEach(t -> command.add("--table=" + t));
        ProcessRunner.Spec spec = ProcessRunner.Spec.of(command, db.libpqEnvironment(passfile, target.database()),
                settings.pgDump().timeout());
        IOException[] writeFailed = new IOException[1];
        List<Optional<String>> hashed = new ArrayList<>(List.of(Optional.empty()));
        if (tee != null) {
            spec = spec.withStdout(in -> {
                try {
                    hashed.set(0, compress(in, tmp, compression.zstdLevel(), tee));
                } catch (IOException e) {
                    writeFailed[0] = e;
                    in.transferTo(java.io.OutputStream.nullOutputStream());
                }
            });
        }
        ProcessRunner.Result result = runner.run(spec, p -> { });
        if (writeFailed[0] != null) {
            String why = String.valueOf(writeFailed[0].getMessage());
            if (why.contains("No space left on device") || why.contains("Disk quota exceeded")) {
                throw fullDisk(target, tmp, why);
            }
            throw Durable.storageError("backup of target " + target.name() + ": writing " + tmp.getFileName() + " failed",
                    writeFailed[0]);
        }
        if (result.exitCode() != 0) {
            throw classify(target, spec, result, runner, tmp);
        }
        return new Dumped(result.elapsed(), hashed.get(0));
    }

    /**
     * pg_dump's uncompressed archive, from its stdout: compressed with zstd into {@code tmp} and, the
     * same bytes, handed to the verifier. Two workers: pg_dump and the server use the rest. Returns
     * the file's sha256, hashed as it was written (empty if that could not be done).
     */
    private static Optional<String> compress(java.io.InputStream in, Path tmp, int level, Tee tee) throws IOException {
        byte[] chunk = new byte[Tee.CHUNK];
        DigestingOutputStream file = new DigestingOutputStream(new java.io.BufferedOutputStream(
                Files.newOutputStream(tmp), Tee.CHUNK));
        try (file; com.github.luben.zstd.ZstdOutputStream zstd = new com.github.luben.zstd.ZstdOutputStream(file, level)) {
            zstd.setWorkers(Math.max(1, Runtime.getRuntime().availableProcessors() - 1));
            int n;
            while ((n = in.readNBytes(chunk, 0, chunk.length)) > 0) {
                zstd.write(chunk, 0, n);
                tee.write(chunk, n);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            tee.end();
        }
        return file.sha256();
    }

    private static BackstopException fullDisk(Target target, Path tmp, String detail) {
        return new BackstopException(ExitCode.STORAGE, "backup of target " + target.name() + ": the backup directory "
                + tmp.getParent() + " is full (No space left on device); free space or lower retention. Earlier backups"
                + " are untouched.\n    " + detail.replace("\n", "\n    "));
    }

    /** Turns pg_dump's stderr into the error the operator needs: full disk, permissions, locks or the rest. */
    private BackstopException classify(Target target, ProcessRunner.Spec spec, ProcessRunner.Result result,
            ProcessRunner runner, Path tmp) {
        String err = result.stderrTail();
        String prefix = "backup of target " + target.name() + ": ";
        if (err.contains("No space left on device") || err.contains("Disk quota exceeded")) {
            return fullDisk(target, tmp, err);
        }
        if (err.contains("Permission denied") || err.contains("Read-only file system")) {
            return new BackstopException(ExitCode.STORAGE, prefix + "cannot write to " + tmp.getParent() + "\n    "
                    + err.replace("\n", "\n    "));
        }
        if (err.contains("could not obtain lock")) {
            return new BackstopException(ExitCode.DUMP_FAILED, prefix + "a table lock was not granted within "
                    + "pg-dump.lock-wait-timeout (" + settings.pgDump().lockWaitTimeout() + "); a long transaction or"
                    + " migration holds it\n    " + err.replace("\n", "\n    "));
        }
        if (err.contains("server version mismatch") || err.contains("aborting because of server version")) {
            return new BackstopException(ExitCode.TOOLS, prefix + "pg_dump cannot dump this server version\n    "
                    + err.replace("\n", "\n    "));
        }
        return runner.failure(spec, result, ExitCode.DUMP_FAILED);
    }

    /** A final name nobody has used: two backups within one second get consecutive stamps. */
    private Path freeName(String target, Tier tier, Instant started, Optional<String> label, String suffix) {
        Instant stamp = started.truncatedTo(ChronoUnit.SECONDS);
        Path candidate = layout.timestamped(target, tier, stamp, label, suffix);
        while (taken(target, tier, stamp, label)) {
            stamp = stamp.plusSeconds(1);
            candidate = layout.timestamped(target, tier, stamp, label, suffix);
        }
        return candidate;
    }

    /** A stamp is taken when a dump of either kind, or its manifest, carries it. */
    private boolean taken(String target, Tier tier, Instant stamp, Optional<String> label) {
        for (String suffix : List.of(BackupLayout.DUMP_SUFFIX, BackupLayout.ZSTD_SUFFIX)) {
            Path p = layout.timestamped(target, tier, stamp, label, suffix);
            if (Files.exists(p) || Files.exists(BackupLayout.manifestOf(p))) {
                return true;
            }
        }
        return false;
    }

    private static void createTemporary(Path tmp) {
        try {
            Durable.createPrivate(tmp);
        } catch (IOException e) {
            throw Durable.storageError("cannot create a temporary dump file in " + tmp.getParent(), e);
        }
    }

    /**
     * Removes what an interrupted run left: temporary files whose writer is gone, and manifests
     * whose dump never got its final name. Runs under the target's lock, so it never races a
     * running backup; a temporary of a live process (state.json, a manifest, a link, written under
     * other locks or none) is left to it.
     */
    public void sweep(String target) {
        Path targetDir = layout.targetDir(target);
        if (!Files.isDirectory(targetDir)) {
            return;
        }
        List<Path> dirs = new ArrayList<>(List.of(targetDir));
        for (Tier tier : Tier.values()) {
            dirs.add(layout.tierDir(target, tier));
        }
        for (Path dir : dirs) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (var files = Files.list(dir)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    String name = f.getFileName().toString();
                    if (BackupLayout.isTemporary(f) && Durable.writerAlive(f)) {
                        continue; // a live process's state, manifest or link, written under another lock
                    } else if (BackupLayout.isTemporary(f)) {
                        log.info("removing leftover temporary file {} (an earlier run was interrupted)", f);
                        Files.deleteIfExists(f);
                    } else if (name.endsWith(BackupLayout.MANIFEST_SUFFIX) && BackupLayout.isDumpName(name.substring(0, name.length() - 5))
                            && BackupLayout.parse(target, name.substring(0, name.length() - ".json".length())).isPresent()
                            && !Files.exists(f.resolveSibling(name.substring(0, name.length() - ".json".length())))) {
                        log.info("removing manifest {} whose dump never got its final name", f);
                        Files.deleteIfExists(f);
                    }
                }
            } catch (IOException e) {
                throw Durable.storageError("cannot sweep " + dir, e);
            }
        }
    }

    private static void deleteQuietly(Path tmp) {
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException e) {
            log.warn("could not remove temporary file {}: {}; it is swept at the next start", tmp, e.getMessage());
        }
    }
}
