package io.backstop.recover;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.backup.Backup;
import io.backstop.backup.BackupResult;
import io.backstop.backup.Progress;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.files.Sizes;
import io.backstop.pg.Database;
import io.backstop.pg.PgTools;
import io.backstop.restore.Resolver;
import io.backstop.restore.Restore;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Undo of an incident, table by table, without rolling anything else back. The backup's rows of
 * each named table are streamed from the archive into a temporary table of the recovering
 * session (the live schema is not touched) and compared with the live table by primary key (by
 * whole rows where there is none): rows missing live, rows changed since, rows only live. With
 * {@code apply}, in one transaction and after a safety backup of the tables it changes, missing
 * rows are inserted (parents before children), changed ones reset only when asked, rows only
 * live never touched, sequences moved past the restored keys; a table (or schema) that no longer
 * exists is recreated as it was, with the foreign keys that pointed at it. A failure anywhere
 * rolls everything back; a second apply finds nothing to do.
 */
public final class Recover {
    private static final Logger log = LoggerFactory.getLogger(Recover.class);
    private static final int SAMPLES = 5;
    /** Keys spread over more values than this (32 MiB of bits) are compared in SQL. */
    private static final long MAX_KEY_RANGE = 1L << 28;

    private final Settings settings;
    private final Backup backup;
    private final PgTools tools;

    public Recover(Settings settings, Backup backup, PgTools tools) {
        this.settings = settings;
        this.backup = backup;
        this.tools = tools;
    }

    public record Request(Resolver.Resolved backup, List<String> tables, boolean apply, boolean missing,
            boolean changed, Restore.Confirmation confirmation) {
        public Request {
            tables = List.copyOf(tables);
        }
    }

    /**
     * One table's comparison (and, after an apply, what was done). {@code changed} is {@link
     * #NOT_COMPARED} where an apply that only inserts did not compare the rows both sides hold.
     */
    public record TableReport(String table, boolean existsLive, boolean primaryKey, long backupRows, long liveRows,
            long missing, long changed, long onlyLive, List<String> missingSamples, List<String> changedSamples,
            long inserted, long updated, boolean recreated) {
    }

    public static final long NOT_COMPARED = -1;

    public record Result(String backupFile, List<TableReport> tables, boolean applied, Optional<Path> safetyBackup,
            Duration duration) {
        public boolean nothingToDo() {
            return tables.stream().allMatch(t -> t.existsLive() && t.missing() == 0 && t.changed() <= 0);
        }
    }

    public Result run(Target target, Request request) {
        long started = System.nanoTime();
        Path archive = request.backup().file();
        // The archive's sha256 is checked beside the work (it is read anyway): awaited before
        // anything is shown, confirmed or committed.
        CompletableFuture<Void> integrity = inBackground("sha256-" + archive.getFileName(), () -> {
            Restore.checkIntegrity(archive, request.backup().manifest());
            return null;
        });
        Database db = new Database(target);
        try (Connection c = db.connect()) {
            c.setAutoCommit(false);
            List<Plan> plans = new ArrayList<>();
            for (String typed : request.tables()) {
                plans.add(plan(c, typed, request));
            }
            orderParentsFirst(c, plans);
            if (request.apply() && request.confirmation().given() && request.missing() && !request.changed()
                    && plans.stream().allMatch(p -> p.live)) {
                return insertAtOnce(c, target, archive, plans, started, integrity);
            }
            int n = 0;
            for (Plan p : plans) {
                n++;
                if (p.live) {
                    load(c, archive, p, "pg_temp.backstop_recover_" + n);
                    compare(c, p);
                }
            }
            trusted(integrity);
            List<TableReport> reports = plans.stream().map(p -> p.report(0, 0, false)).toList();
            boolean work = reports.stream().anyMatch(t -> !t.existsLive() || (request.missing() && t.missing() > 0)
                    || (request.changed() && t.changed() > 0));
            if (!request.apply() || !work) {
                c.rollback();
                log.info("recover {}: compared {} tables with {}{}", target.name(), plans.size(), archive.getFileName(),
                        request.apply() ? "; nothing to apply" : " (dry run)");
                return new Result(archive.toString(), reports, false, Optional.empty(), took(started));
            }
            String what = describe(reports, request.missing(), request.changed());
            if (!request.confirmation().confirm(target.database(), what)) {
                c.rollback();
                throw new BackstopException(ExitCode.USAGE, "not confirmed; nothing was changed");
            }
            Safety safety = new Safety(target, plans.stream().filter(p -> p.live).map(p -> p.quoted).toList());
            safety.start();
            List<TableReport> done = new ArrayList<>();
            List<String> foreignKeys = new ArrayList<>();
            try {
                for (Plan p : plans) {
                    if (!p.live) {
                        foreignKeys.addAll(recreate(c, target, archive, p, request));
                        done.add(p.report(p.backupRows, 0, true));
                        continue;
                    }
                    long inserted = request.missing() ? insertMissing(c, p) : 0;
                    long updated = request.changed() ? resetChanged(c, p) : 0;
                    moveSequences(c, p.quoted);
                    done.add(p.report(inserted, updated, false));
                }
                for (String fk : foreignKeys) {
                    addForeignKey(c, fk);
                }
            } catch (SQLException | RuntimeException e) {
                throw rolledBack(c, target, safety, e);
            }
            return commit(c, target, archive, safety, done, started);
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DUMP_FAILED, "recover of target " + target.name() + " failed: "
                    + e.getMessage(), e);
        }
    }

    /**
     * The apply with --yes that only inserts missing rows, every table still there: nothing is
     * shown before it, so no comparison of the rows both sides hold is needed. A table with an
     * integer primary key gets its missing rows straight from the archive's stream, picked by the
     * keys it holds now ({@link LiveKeys}); any other is compared in SQL as the dry run does. The
     * safety backup starts with the first missing row and runs beside the inserts: its snapshot
     * cannot see them (they are not committed), and the transaction commits only once it is
     * verified. With nothing missing, none is taken. (Started at once instead, it slowed the keys'
     * read more than it gained: 6.3 s instead of 5.4 s for 1M of 10M rows on 2 cores.)
     */
    private Result insertAtOnce(Connection c, Target target, Path archive, List<Plan> plans, long started,
            CompletableFuture<Void> integrity) throws SQLException {
        Safety safety = new Safety(target, plans.stream().map(p -> p.quoted).toList());
        List<TableReport> done = new ArrayList<>();
        try {
            int n = 0;
            for (Plan p : plans) {
                n++;
                long inserted;
                if (insertByKeys(c, archive, p, safety)) {
                    inserted = p.missing;
                } else {
                    load(c, archive, p, "pg_temp.backstop_recover_" + n);
                    compare(c, p);
                    if (p.missing > 0) {
                        safety.start();
                    }
                    inserted = p.missing > 0 ? insertMissing(c, p) : 0;
                }
                moveSequences(c, p.quoted);
                done.add(p.report(inserted, 0, false));
            }
            trusted(integrity);
            if (done.stream().allMatch(t -> t.inserted() == 0)) {
                c.rollback();
                log.info("recover {}: compared {} tables with {}; nothing to apply", target.name(), plans.size(),
                        archive.getFileName());
                return new Result(archive.toString(), done, false, Optional.empty(), took(started));
            }
        } catch (SQLException | RuntimeException e) {
            throw rolledBack(c, target, safety, e);
        }
        return commit(c, target, archive, safety, done, started);
    }

    /**
     * Commits the apply once its safety backup is verified (a failed one, or a failed commit, rolls
     * it back) and says what was applied.
     */
    private Result commit(Connection c, Target target, Path archive, Safety safety, List<TableReport> done,
            long started) {
        Optional<Path> saved;
        try {
            saved = safety.await();
            c.commit();
        } catch (SQLException | RuntimeException e) {
            throw rolledBack(c, target, safety, e);
        }
        logApplied(target, archive, done);
        return new Result(archive.toString(), done, true, saved, took(started));
    }

    /**
     * Inserts {@code p}'s missing rows straight from the archive when its key is one integer column
     * whose values are dense enough; false (nothing done) when it is not, or when a row with one of
     * those keys was written in the meantime (then the caller compares in SQL).
     */
    private boolean insertByKeys(Connection c, Path archive, Plan p, Safety safety) throws SQLException {
        if (!p.integerKey) {
            return false;
        }
        long t0 = System.nanoTime();
        Optional<LiveKeys> keys = LiveKeys.read(c, p.quoted, p.pk.get(0), MAX_KEY_RANGE);
        if (keys.isEmpty()) {
            log.info("recover: the keys of {} are spread too wide to be read at once; comparing in SQL", p.quoted);
            return false;
        }
        long t1 = System.nanoTime();
        java.sql.Savepoint before = c.setSavepoint();
        List<String> samples = new ArrayList<>();
        Optional<ArchiveRows.Loaded> loaded;
        try {
            loaded = ArchiveRows.copy(tools, archive, p.name.schema(), p.name.table(), c, p.quoted,
                    settings.pgDump().timeout(), columns -> keys.get().missing(columns, p.pk.get(0), safety::start,
                            samples, SAMPLES));
        } catch (BackstopException e) {
            if (e.getCause() instanceof SQLException sql && "23505".equals(sql.getSQLState())) {
                c.rollback(before);
                log.info("recover: a row of {} with a missing key was written meanwhile ({}); comparing in full",
                        p.quoted, sql.getMessage());
                return false;
            }
            throw e;
        }
        c.releaseSavepoint(before);
        if (loaded.isEmpty()) {
            throw new BackstopException(ExitCode.USAGE, p.quoted + " has no data in " + archive.getFileName()
                    + " (the table was not in the database then, or its data was excluded from the dump)");
        }
        p.columns = loaded.get().columnList();
        p.liveRows = keys.get().size();
        p.backupRows = loaded.get().read();
        p.missing = loaded.get().rows();
        p.changed = NOT_COMPARED;
        p.onlyLive = p.liveRows - (p.backupRows - p.missing);
        p.missingSamples = samples;
        log.info("recover: {}: {} live keys read in {}; {} missing rows of the backup's {} inserted in {}", p.quoted,
                p.liveRows, Sizes.seconds(Duration.ofNanos(t1 - t0)), p.missing, p.backupRows,
                Sizes.seconds(Duration.ofNanos(System.nanoTime() - t1)));
        return true;
    }

    /** {@code work} on a daemon thread of its own, as a future. */
    private static <T> CompletableFuture<T> inBackground(String name, java.util.function.Supplier<T> work) {
        CompletableFuture<T> future = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                future.complete(work.get());
            } catch (Throwable e) {
                future.completeExceptionally(e);
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return future;
    }

    /** Waits for the archive's sha256 check: a file that no longer matches its manifest is refused. */
    private static void trusted(CompletableFuture<Void> integrity) {
        try {
            integrity.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw e;
        }
    }

    /** Rolls back after a failure, waits for a safety backup that was started, and says both. */
    private static BackstopException rolledBack(Connection c, Target target, Safety safety, Exception e) {
        try {
            c.rollback();
        } catch (SQLException gone) {
            // the connection is gone (killed): the server rolled the transaction back itself
        }
        Optional<Path> kept = safety.awaitQuietly();
        return new BackstopException(e instanceof BackstopException be ? be.code() : ExitCode.DUMP_FAILED,
                "recover of target " + target.name() + " failed and was rolled back; nothing changed: " + e.getMessage()
                        + kept.map(s -> " (the safety backup " + s + " is there anyway)").orElse(""), e);
    }

    private static void logApplied(Target target, Path archive, List<TableReport> done) {
        log.info("recover {}: applied in one transaction from {}: {}", target.name(), archive.getFileName(),
                done.stream().map(t -> t.table() + (t.recreated() ? " recreated with " + t.inserted() + " rows"
                        : " +" + t.inserted() + (t.updated() > 0 ? ", " + t.updated() + " reset" : "")))
                        .collect(Collectors.joining("; ")));
    }

    /**
     * The safety backup of the tables an apply changes, taken beside it: started once there is
     * something to change, awaited before the commit (a failed one rolls the apply back).
     */
    private final class Safety {
        private final Target target;
        private final List<String> tables;
        private final AtomicReference<CompletableFuture<BackupResult>> running = new AtomicReference<>();

        Safety(Target target, List<String> tables) {
            this.target = target;
            this.tables = tables;
        }

        /** Starts it, once (the archive's stream may ask again with every table). */
        synchronized void start() {
            if (!tables.isEmpty() && running.get() == null) {
                running.set(inBackground("safety-backup-" + target.name(), () -> backup.run(target,
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

    private static Duration took(long started) {
        return Duration.ofNanos(System.nanoTime() - started);
    }

    private static String describe(List<TableReport> reports, boolean missing, boolean changed) {
        return reports.stream().map(t -> !t.existsLive() ? "RECREATE " + t.table() + " with " + t.backupRows() + " rows"
                : (missing ? "INSERT " + t.missing() + " missing rows into " + t.table() : t.table() + ":")
                        + (changed && t.changed() > 0 ? " RESET " + t.changed() + " changed rows" : ""))
                .collect(Collectors.joining(", ")) + " (rows written since the backup are kept)";
    }

    /** What is known about one named table before anything changes. */
    private static final class Plan {
        QualifiedName name;
        String quoted;
        boolean live;
        long backupRows;
        long liveRows;
        List<String> pk = List.of();
        List<String> columns = List.of();
        List<String> identityAlways = List.of();
        /** One primary key column of type smallint, integer or bigint. */
        boolean integerKey;
        String temp;
        long missing;
        long changed;
        long onlyLive;
        List<String> missingSamples = List.of();
        List<String> changedSamples = List.of();
        List<String> textOnly;

        TableReport report(long inserted, long updated, boolean recreated) {
            return new TableReport(quoted, live, !pk.isEmpty(), backupRows, liveRows, missing, changed, onlyLive,
                    missingSamples, changedSamples, inserted, updated, recreated);
        }
    }

    private Plan plan(Connection c, String typed, Request request) throws SQLException {
        Plan p = new Plan();
        Optional<String> live = one(c, "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n"
                + " ON n.oid = c.relnamespace WHERE c.oid = to_regclass(?) AND c.relkind IN ('r', 'p')", typed);
        Map<String, Long> counts = request.backup().manifest().rowCounts();
        if (live.isPresent()) {
            p.quoted = live.get();
        } else {
            // Gone live: find it in the backup by its name as typed, or by the table name alone.
            String wanted = QualifiedName.parse(typed).map(q -> q.schema() + "." + q.table()).orElse(typed);
            List<String> matches = counts.keySet().stream().filter(k -> QualifiedName.parse(k)
                    .map(q -> (q.schema() + "." + q.table()).equals(wanted)
                            || (!typed.contains(".") && q.table().equals(typed))).orElse(false)).toList();
            if (matches.size() != 1) {
                throw new BackstopException(ExitCode.USAGE, "table \"" + typed + "\" " + (matches.isEmpty()
                        ? "is neither in the database nor in backup " + request.backup().file().getFileName()
                        + "; tables in the backup: " + String.join(", ", counts.keySet())
                        : "is ambiguous in the backup: " + String.join(", ", matches) + "; name it with its schema"));
            }
            p.quoted = matches.get(0);
        }
        p.name = QualifiedName.parse(p.quoted).orElseThrow();
        p.live = live.isPresent();
        p.backupRows = counts.getOrDefault(p.quoted, -1L);
        if (!p.live) {
            return p;
        }
        p.pk = strings(c, """
                SELECT quote_ident(a.attname) FROM pg_index i
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                 WHERE i.indrelid = ?::regclass AND i.indisprimary
                 ORDER BY array_position(i.indkey::int2[], a.attnum)""", p.quoted);
        p.integerKey = p.pk.size() == 1 && strings(c, """
                SELECT t.typname FROM pg_index i
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  JOIN pg_type t ON t.oid = a.atttypid
                 WHERE i.indrelid = ?::regclass AND i.indisprimary""", p.quoted).stream()
                .anyMatch(type -> type.equals("int2") || type.equals("int4") || type.equals("int8"));
        p.identityAlways = strings(c, "SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = ?::regclass"
                + " AND attidentity = 'a' AND NOT attisdropped", p.quoted);
        return p;
    }

    private void load(Connection c, Path archive, Plan p, String temp) throws SQLException {
        execute(c, "CREATE TEMP TABLE " + temp.substring("pg_temp.".length()) + " (LIKE " + p.quoted + ")");
        p.temp = temp;
        Optional<ArchiveRows.Loaded> loaded = ArchiveRows.copy(tools, archive, p.name.schema(), p.name.table(), c, temp,
                settings.pgDump().timeout());
        if (loaded.isEmpty()) {
            throw new BackstopException(ExitCode.USAGE, p.quoted + " has no data in " + archive.getFileName()
                    + " (the table was not in the database then, or its data was excluded from the dump)");
        }
        p.columns = loaded.get().columnList();
        p.backupRows = loaded.get().rows();
        execute(c, "ANALYZE " + temp);
    }

    private void compare(Connection c, Plan p) throws SQLException {
        p.liveRows = count(c, "SELECT count(*) FROM ONLY " + p.quoted);
        String l = "l";
        String b = "b";
        if (!p.pk.isEmpty()) {
            String join = p.pk.stream().map(k -> l + "." + k + " = " + b + "." + k).collect(Collectors.joining(" AND "));
            String keys = p.pk.stream().map(k -> b + "." + k + "::text").collect(Collectors.joining(" || ',' || "));
            List<String> others = nonKey(p);
            String differs = others.isEmpty() ? "false" : row(c, p, l, others) + " IS DISTINCT FROM " + row(c, p, b, others);
            String firstKey = l + "." + p.pk.get(0);
            // One pass: every backup row, with its live row where there is one.
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FILTER (WHERE "
                    + firstKey + " IS NULL), count(*) FILTER (WHERE " + firstKey + " IS NOT NULL AND " + differs
                    + ") FROM " + p.temp + " b LEFT JOIN ONLY " + p.quoted + " l ON " + join)) {
                rs.next();
                p.missing = rs.getLong(1);
                p.changed = rs.getLong(2);
            }
            // Keys are unique on both sides: the live rows that matched none are the rest.
            p.onlyLive = p.liveRows - (p.backupRows - p.missing);
            p.missingSamples = strings(c, "SELECT " + keys + " FROM " + p.temp + " b WHERE NOT EXISTS (SELECT 1 FROM ONLY "
                    + p.quoted + " l WHERE " + join + ") LIMIT " + SAMPLES);
            if (p.changed > 0) {
                p.changedSamples = strings(c, "SELECT " + keys + " FROM " + p.temp + " b JOIN ONLY " + p.quoted + " l ON "
                        + join + " WHERE " + differs + " LIMIT " + SAMPLES);
            }
        } else {
            // No primary key: rows are compared whole, as multisets.
            String cols = p.columns.stream().map(x -> x + "::text").collect(Collectors.joining(", "));
            p.missing = count(c, "SELECT count(*) FROM (SELECT " + cols + " FROM " + p.temp + " EXCEPT ALL SELECT " + cols
                    + " FROM ONLY " + p.quoted + ") x");
            p.onlyLive = count(c, "SELECT count(*) FROM (SELECT " + cols + " FROM ONLY " + p.quoted + " EXCEPT ALL SELECT "
                    + cols + " FROM " + p.temp + ") x");
        }
    }

    private static List<String> nonKey(Plan p) {
        return p.columns.stream().filter(col -> !p.pk.contains(col)).toList();
    }

    /**
     * The columns as values to compare: typed where the type has an equality (cheap), as text where
     * it has none (json, xml, geometric types), which IS DISTINCT FROM could not compare.
     */
    private static String row(Connection c, Plan p, String alias, List<String> cols) throws SQLException {
        if (p.textOnly == null) {
            p.textOnly = strings(c, """
                    SELECT quote_ident(a.attname) FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                      LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
                     WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped
                       AND coalesce(e.typname, t.typname) IN ('json', 'xml', 'point', 'line', 'lseg', 'box', 'path',
                                                              'polygon', 'circle')""", p.quoted);
        }
        return "ROW(" + cols.stream().map(x -> alias + "." + x + (p.textOnly.contains(x) ? "::text" : ""))
                .collect(Collectors.joining(", ")) + ")";
    }

    private static long insertMissing(Connection c, Plan p) throws SQLException {
        String cols = String.join(", ", p.columns);
        String overriding = p.identityAlways.isEmpty() ? "" : " OVERRIDING SYSTEM VALUE";
        if (!p.pk.isEmpty()) {
            String join = p.pk.stream().map(k -> "l." + k + " = b." + k).collect(Collectors.joining(" AND "));
            // A key written by the application meanwhile (after this statement's snapshot) is skipped, not an error.
            return update(c, "INSERT INTO " + p.quoted + " (" + cols + ")" + overriding + " SELECT "
                    + p.columns.stream().map(x -> "b." + x).collect(Collectors.joining(", ")) + " FROM " + p.temp
                    + " b WHERE NOT EXISTS (SELECT 1 FROM ONLY " + p.quoted + " l WHERE " + join + ") ON CONFLICT ("
                    + String.join(", ", p.pk) + ") DO NOTHING");
        }
        // Whole rows: of each distinct row, insert as many copies as the backup has more than live.
        String text = p.columns.stream().map(x -> "b." + x + "::text").collect(Collectors.joining(", "));
        String same = p.columns.stream().map(x -> "l." + x + "::text IS NOT DISTINCT FROM b." + x + "::text")
                .collect(Collectors.joining(" AND "));
        return update(c, "INSERT INTO " + p.quoted + " (" + cols + ")" + overriding + " SELECT "
                + p.columns.stream().map(x -> "b." + x).collect(Collectors.joining(", ")) + " FROM (SELECT b.*,"
                + " row_number() OVER (PARTITION BY " + text + ") AS backstop_n FROM " + p.temp + " b) b"
                + " WHERE b.backstop_n > (SELECT count(*) FROM ONLY " + p.quoted + " l WHERE " + same + ")");
    }

    private static long resetChanged(Connection c, Plan p) throws SQLException {
        List<String> others = nonKey(p).stream().filter(x -> !p.identityAlways.contains(x)).toList();
        if (p.pk.isEmpty() || others.isEmpty()) {
            return 0;
        }
        String join = p.pk.stream().map(k -> "l." + k + " = b." + k).collect(Collectors.joining(" AND "));
        return update(c, "UPDATE ONLY " + p.quoted + " l SET (" + String.join(", ", others) + ") = ROW("
                + others.stream().map(x -> "b." + x).collect(Collectors.joining(", ")) + ") FROM " + p.temp + " b WHERE "
                + join + " AND " + row(c, p, "l", others) + " IS DISTINCT FROM " + row(c, p, "b", others));
    }

    /** Every sequence a column of {@code table} draws from moves past the largest value now in it. */
    private static void moveSequences(Connection c, String table) throws SQLException {
        Map<String, String> sequences = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT quote_ident(attname), pg_get_serial_sequence(?, attname)"
                + " FROM pg_attribute WHERE attrelid = ?::regclass AND attnum > 0 AND NOT attisdropped")) {
            ps.setString(1, table);
            ps.setString(2, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (rs.getString(2) != null) {
                        sequences.put(rs.getString(1), rs.getString(2));
                    }
                }
            }
        }
        for (Map.Entry<String, String> s : sequences.entrySet()) {
            try (PreparedStatement ps = c.prepareStatement("SELECT setval(?::regclass, greatest((SELECT max(" + s.getKey()
                    + ") FROM " + table + ")::bigint, (SELECT last_value FROM " + s.getValue() + ")), true)")) {
                ps.setString(1, s.getValue());
                ps.executeQuery().close();
            }
        }
    }

    /** Recreates a table (and its schema when that is gone too) from the backup; returns the foreign keys to add last. */
    private List<String> recreate(Connection c, Target target, Path archive, Plan p, Request request) throws SQLException {
        boolean schemaGone = one(c, "SELECT nspname FROM pg_namespace WHERE nspname = ?", p.name.schema()).isEmpty();
        Definition def = Definition.read(settings, tools, target, request.backup(), p.name, schemaGone);
        for (String statement : def.ddl()) {
            execute(c, statement);
        }
        execute(c, "SELECT pg_catalog.set_config('search_path', '', true)");
        for (QualifiedName t : def.tables()) {
            Optional<ArchiveRows.Loaded> loaded = ArchiveRows.copy(tools, archive, t.schema(), t.table(), c,
                    quoted(c, t), settings.pgDump().timeout());
            loaded.ifPresent(l -> log.info("recover {}: {} recreated with {} rows", target.name(), t, l.rows()));
            moveSequences(c, quoted(c, t));
        }
        // Foreign keys from tables that still exist, pointing at what was dropped: after every load.
        List<String> fks = new ArrayList<>();
        for (String fk : def.referencing()) {
            fks.add(fk);
        }
        return fks;
    }

    private static String quoted(Connection c, QualifiedName n) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT format('%I.%I', ?, ?)")) {
            ps.setString(1, n.schema());
            ps.setString(2, n.table());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    /**
     * A foreign key of a table that still exists, pointing at a recreated one. Rows written since
     * may not match: then it is added NOT VALID (new rows are checked, old ones are not) and said so.
     */
    private static void addForeignKey(Connection c, String fk) throws SQLException {
        java.sql.Savepoint sp = c.setSavepoint();
        try {
            execute(c, fk);
            c.releaseSavepoint(sp);
        } catch (SQLException e) {
            c.rollback(sp);
            execute(c, fk + " NOT VALID");
            log.warn("recover: {} added NOT VALID: existing rows do not all match ({}); fix them, then VALIDATE"
                    + " CONSTRAINT", fk, e.getMessage());
        }
    }

    static void execute(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static long update(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            return st.executeLargeUpdate(sql);
        }
    }

    private static long count(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static List<String> strings(Connection c, String sql, String... args) throws SQLException {
        List<String> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setString(i + 1, args[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
        }
        return out;
    }

    private static Optional<String> one(Connection c, String sql, String arg) throws SQLException {
        List<String> r = strings(c, sql, arg);
        return r.isEmpty() ? Optional.empty() : Optional.of(r.get(0));
    }

    /** Parents (referenced tables) before children, among the tables being recovered. */
    private static void orderParentsFirst(Connection c, List<Plan> plans) throws SQLException {
        List<Plan> ordered = new ArrayList<>();
        List<Plan> left = new ArrayList<>(plans);
        Map<String, List<String>> parents = new LinkedHashMap<>();
        for (Plan p : plans) {
            parents.put(p.quoted, p.live ? strings(c, "SELECT DISTINCT format('%I.%I', n.nspname, r.relname) FROM"
                    + " pg_constraint k JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace n ON n.oid = r.relnamespace"
                    + " WHERE k.contype = 'f' AND k.conrelid = ?::regclass AND k.confrelid <> k.conrelid", p.quoted)
                    : List.of());
        }
        while (!left.isEmpty()) {
            Plan next = left.stream().filter(p -> parents.get(p.quoted).stream()
                    .noneMatch(parent -> left.stream().anyMatch(o -> o.quoted.equals(parent)))).findFirst()
                    .orElse(left.get(0)); // a cycle: the foreign keys check at the end of each statement anyway
            ordered.add(next);
            left.remove(next);
        }
        // Tables to recreate first: children being filled may reference them.
        ordered.sort((a, b) -> Boolean.compare(a.live, b.live));
        plans.clear();
        plans.addAll(ordered);
    }
}
