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
import io.backstop.crypt.Age;
import io.backstop.files.Durable;
import io.backstop.files.Sizes;
import io.backstop.files.TargetLock;
import io.backstop.pg.CountedTable;
import io.backstop.pg.Database;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import io.backstop.pg.RowCounter;
import io.backstop.pg.SnapshotFacts;
import io.backstop.pg.Watched;
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
    /**
     * The snapshot, and the WAL insert position right after it was taken (none on a standby): a replay
     * of the WAL archive to about there reproduces what the dump saw (the PITR drill).
     */
    private static final String EXPORT_SNAPSHOT = "SELECT pg_export_snapshot(), CASE WHEN pg_is_in_recovery()"
            + " THEN NULL ELSE pg_current_wal_insert_lsn()::text END";

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

    /** Which client serves {@code target}'s server ({@link ClientChoice}); empty when it cannot be reached now. */
    public Optional<String> clientFor(Target target) {
        return ClientChoice.describe(tools, target);
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

    /** Where this backup goes: its final name, the temporary it is written to, and how it is written. */
    private record Placement(Tier tier, Path finalFile, Path tmp, Optional<Path> encryptedTmp, Compression compression) {
        boolean encrypt() {
            return encryptedTmp.isPresent();
        }
    }

    /** What the dump's snapshot gave: pg_dump's run, and the row counts taken in the same snapshot. */
    private record Taken(PgDumpRun.Dumped dumped, Map<String, Long> rowCounts, SnapshotFacts facts,
            Verifier.Verified verified, Duration verifyTime) {
    }

    /** The file kept and its sha256 (the ciphertext's when encrypted). */
    private record Kept(Path file, String sha256, long size) {
    }

    private BackupResult runLocked(Target target, Request request, Path defaultPgDump, Progress progress) {
        Instant started = clock.instant();
        long startNanos = System.nanoTime();
        Database db = new Database(target);
        ProcessRunner runner = new ProcessRunner();
        Globals.Written globals = null;
        Placement place = null;
        try (Database.PasswordFile passfile = db.passwordFile(); Connection snapshotConnection = db.connect()) {
            Database.lockTimeout(snapshotConnection, settings.pgDump().lockWaitTimeout());
            ServerInfo server = ServerInfo.read(snapshotConnection);
            PgTools client = tools.forServer(server.version()); // the server's own major where installed
            client.requireDumpCanRead(server.version());
            Path pgDump = client.pgDump();
            place = place(target, request.tier(), request.label(), started, client);
            log.info("backup {} started: {} tier, {} (PostgreSQL {}, pg_dump {})", target.name(), place.tier().dir(),
                    target.describe(), server.version(), client.dumpVersion());
            String[] exported = exportSnapshot(snapshotConnection);
            List<CountedTable> tables = counter.resolve(snapshotConnection, rowCountsFor(request));
            Taken taken = dumpCountAndVerify(target, request, place, db, passfile, runner, pgDump, snapshotConnection,
                    exported[0], tables, progress, client);
            Kept kept = keep(place, taken.verified().sha256());
            globals = request.tables().isEmpty() ? new Globals(settings).take(target, db, passfile, runner, pgDump,
                    snapshotConnection, place.finalFile()) : null;
            Manifest manifest = manifest(target, request, place, server, started, startNanos, kept, taken, exported[1],
                    client)
                    .toBuilder().globals(globals == null ? null : globals.facts()).build();
            // Manifest first: a crash between the renames leaves an orphan manifest and globals (swept at start),
            // never a final dump without them.
            manifests.write(place.finalFile(), manifest);
            if (globals != null && globals.tmp() != null) {
                Durable.rename(globals.tmp(), globals.finalFile());
            }
            Durable.rename(kept.file(), place.finalFile());
            Duration duration = Duration.ofNanos(System.nanoTime() - startNanos);
            log.info("backup {} finished: {}, {} tables, {} rows, {} (dump {}, verify {}) -> {}", target.name(),
                    Sizes.bytes(kept.size()), taken.rowCounts().size(), String.format("%,d", manifest.totalRows()),
                    Sizes.seconds(duration), Sizes.seconds(taken.dumped().elapsed()), Sizes.seconds(taken.verifyTime()),
                    place.finalFile());
            return new BackupResult(place.finalFile(), manifest, kept.size(), duration, taken.rowCounts(),
                    taken.dumped().elapsed(), taken.verifyTime());
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DUMP_FAILED, "backup of target " + target.name() + " failed: "
                    + runner.redact(e.getMessage()), e);
        } catch (IOException e) {
            throw Durable.storageError("backup of target " + target.name() + " failed", e);
        } finally {
            if (place != null) {
                deleteQuietly(place.tmp());
                place.encryptedTmp().ifPresent(Backup::deleteQuietly);
            }
            if (globals != null && globals.tmp() != null) {
                deleteQuietly(globals.tmp());
            }
        }
    }

    /** The final name nobody has used, and the temporaries written on the way to it. */
    private Placement place(Target target, Tier tier, Optional<String> label, Instant started, PgTools client) {
        Durable.createDirectories(layout.tierDir(target.name(), tier));
        Compression compression = Compression.of(settings.pgDump().compress(), client.dumpVersion());
        boolean encrypt = settings.encryption().localEncrypted();
        Path finalFile = layout.freeName(target.name(), tier, started, label,
                compression.suffix() + (encrypt ? BackupLayout.AGE_SUFFIX : ""));
        // The plain dump's temporary is named as the plain file: it is verified (and read) as plain bytes.
        String name = finalFile.getFileName().toString();
        Path tmp = Durable.temporarySibling(encrypt
                ? finalFile.resolveSibling(name.substring(0, name.length() - BackupLayout.AGE_SUFFIX.length()))
                : finalFile);
        return new Placement(tier, finalFile, tmp,
                encrypt ? Optional.of(Durable.temporarySibling(finalFile)) : Optional.empty(), compression);
    }

    /** The tables whose rows are counted: the request's own (a safety backup of some tables), else the settings'. */
    private Settings.RowCounts rowCountsFor(Request request) {
        return request.tables().isEmpty() ? settings.rowCounts()
                : settings.rowCounts().only(request.tables());
    }

    /**
     * pg_dump in the exported snapshot, the rows counted in the same snapshot beside it, and the archive read
     * in full by pg_restore as it is written (from the tee, or from the file as it grows); then verified.
     */
    private Taken dumpCountAndVerify(Target target, Request request, Placement place, Database db,
            Database.PasswordFile passfile, ProcessRunner runner, Path pgDump, Connection snapshotConnection,
            String snapshot, List<CountedTable> tables, Progress progress, PgTools client) throws SQLException {
        Path tmp = place.tmp();
        createTemporary(tmp);
        CompletableFuture<Counted> counts = countInBackground(target, snapshotConnection, tables,
                request.tables().isEmpty());
        Verifier verifier = new Verifier(client, runner);
        AtomicBoolean dumpDone = new AtomicBoolean();
        Tee tee = place.compression().stream() ? new Tee() : null;
        Verifier.FullRead fullRead = tee != null
                ? verifier.startFullRead(tee::drainTo, place.finalFile().getFileName().toString(),
                        settings.pgDump().timeout())
                : verifier.startFullRead(tmp, dumpDone::get, settings.pgDump().timeout());
        PgDumpRun.Dumped dumped;
        try (Progress.Watch watch = Progress.watch(tmp, "dump", "backup-progress-" + target.name(),
                Duration.ofSeconds(1), progress)) {
            dumped = new PgDumpRun(settings).dump(target, db, passfile, runner, pgDump, snapshot, tmp, request.tables(),
                    place.compression(), tee);
        } catch (RuntimeException e) {
            fullRead.cancel();
            counts.cancel(true);
            throw e;
        } finally {
            dumpDone.set(true);
        }
        Counted counted = awaitCounts(target, counts);
        snapshotConnection.commit();
        long verifyStart = System.nanoTime();
        Verifier.Verified verified = verifier.finish(tmp, tables, settings.pgDump().timeout(), ExitCode.DUMP_FAILED,
                fullRead, dumped.sha256());
        return new Taken(dumped, counted.rows(), counted.facts(), verified,
                Duration.ofNanos(System.nanoTime() - verifyStart));
    }

    /**
     * The verified temporary, as it is kept: encrypted only now (encryption.local), after it was verified in
     * full as plain bytes, and fsynced.
     */
    private Kept keep(Placement place, String verifiedSha256) throws IOException {
        Path kept = place.tmp();
        String sha256 = verifiedSha256;
        if (place.encrypt()) {
            Path encrypted = place.encryptedTmp().orElseThrow();
            Age.Encrypted written = Age.encryptFile(place.tmp(), encrypted, settings.encryption().recipients(),
                    true); // the manifest's sha256 is the ciphertext's
            if (!written.plainSha256().equals(sha256)) {
                throw new BackstopException(ExitCode.STORAGE, place.tmp() + " changed on disk between its verification"
                        + " and its encryption (sha256 " + written.plainSha256() + ", verified " + sha256
                        + "); nothing was kept");
            }
            sha256 = written.sha256().orElseThrow();
            deleteQuietly(place.tmp());
            kept = encrypted;
        }
        long size = Files.size(kept);
        Durable.fsync(kept);
        return new Kept(kept, sha256, size);
    }

    private Manifest manifest(Target target, Request request, Placement place, ServerInfo server, Instant started,
            long startNanos, Kept kept, Taken taken, String walLsn, PgTools client) throws IOException {
        Instant finished = clock.instant();
        return Manifest.builder().sequence(nextSequence(target.name())).target(target.name())
                .database(target.database()).host(target.host()).port(target.port())
                .node(settings.cluster().map(io.backstop.config.Settings.Cluster::node).orElse(null))
                .serverVersion(server.version().text()).pgDumpVersion(client.dumpVersion().text())
                .systemIdentifier(server.systemIdentifier()).databaseOid(server.databaseOid())
                .file(place.finalFile().getFileName().toString()).tier(place.tier())
                .label(request.label().orElse(null)).startedAt(started).finishedAt(finished)
                .durationSeconds(Duration.ofNanos(System.nanoTime() - startNanos).toMillis() / 1000.0)
                .sizeBytes(kept.size()).sha256(kept.sha256())
                .compress(place.compression().describe() + (place.encrypt() ? "; encrypted with age" : ""))
                .rowCounts(taken.rowCounts()).snapshotFacts(taken.facts().atWalLsn(walLsn))
                .verification(new Manifest.Verification(Verifier.METHOD, "passed", finished,
                        taken.verified().tableDataEntries()))
                .countMethod(Manifest.COUNT_METHOD).fileModifiedAt(Files.getLastModifiedTime(kept.file()).toInstant())
                .databaseSizeBytes(server.databaseSizeBytes()).build();
    }

    /** One more than the highest sequence on disk: creation order that does not trust the clock. */
    private long nextSequence(String target) {
        return new Catalog(layout, manifests).list(target).stream()
                .flatMap(e -> e.manifest().stream())
                .mapToLong(Manifest::sequence).max().orElse(0) + 1;
    }

    /** The exported snapshot's name and the WAL position just after it (null on a standby). */
    private static String[] exportSnapshot(Connection c) throws SQLException {
        c.setAutoCommit(false);
        c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        c.setReadOnly(true);
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(EXPORT_SNAPSHOT)) {
            rs.next();
            return new String[] {rs.getString(1), rs.getString(2)};
        }
    }

    /** The rows counted in the dump's snapshot, and what else the snapshot said. */
    private record Counted(Map<String, Long> rows, SnapshotFacts facts) {
    }

    /**
     * Counts in the dump's snapshot beside pg_dump; with {@code watch} (a backup of the whole target, not a
     * safety backup of some tables) also the large objects and nullable references the alarm watches.
     */
    private CompletableFuture<Counted> countInBackground(Target target, Connection c, List<CountedTable> tables,
            boolean watch) {
        return Background.supply("row-counts-" + target.name(), () -> {
            Map<String, Long> rows = counter.count(c, tables, settings.pgDump().timeout());
            SnapshotFacts facts = SnapshotFacts.read(c, tables, watch ? new Watched(settings.rowCounts()) : null);
            return new Counted(rows, facts);
        });
    }

    private static Counted awaitCounts(Target target, CompletableFuture<Counted> counts) {
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

    private static void createTemporary(Path tmp) {
        try {
            Durable.createPrivate(tmp);
        } catch (IOException e) {
            throw Durable.storageError("cannot create a temporary dump file in " + tmp.getParent(), e);
        }
    }

    /** Removes what an interrupted run left ({@link BackupLayout#sweep}); under the target's lock. */
    public void sweep(String target) {
        layout.sweep(target);
    }

    private static void deleteQuietly(Path tmp) {
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException e) {
            log.warn("could not remove temporary file {}: {}; it is swept at the next start", tmp, e.getMessage());
        }
    }
}
