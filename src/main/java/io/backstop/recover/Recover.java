package io.backstop.recover;

import io.backstop.Background;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.backup.Backup;
import io.backstop.catalog.Archive;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Database;
import io.backstop.pg.Jdbc;
import io.backstop.pg.PgTools;
import io.backstop.restore.Resolver;
import io.backstop.restore.Restore;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
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

    private final Settings settings;
    private final Backup backup;
    private final PgTools tools;
    private final Archive reader;

    private final RowDiff rows;
    private final Recreate recreate;

    public Recover(Settings settings, Backup backup, PgTools tools, Archive reader) {
        this.settings = settings;
        this.backup = backup;
        this.tools = tools;
        this.reader = reader;
        this.rows = new RowDiff(settings, tools, reader);
        this.recreate = new Recreate(settings, tools, reader);
    }

    /** What to do with a key both sides hold with different rows in a table reset since the backup. */
    public enum OnCollision {
        /** Refuse the apply while any exist (the default): never a silent choice. */
        REFUSE,
        /** Move the rows written since to fresh keys (their referencing rows follow), then put the old rows back. */
        REKEY_NEW,
        /** Keep the rows written since; the backup's rows with those keys stay out. */
        KEEP_NEW,
        /** Put the backup's rows back over the rows written since. */
        KEEP_OLD
    }

    public record Request(Resolver.Resolved backup, List<String> tables, boolean apply, boolean missing,
            boolean changed, OnCollision onCollision, boolean largeObjects, List<Long> recoveredXids,
            Restore.Confirmation confirmation) {
        public Request {
            tables = List.copyOf(tables);
            recoveredXids = List.copyOf(recoveredXids);
        }

    }

    /**
     * One table's comparison (and, after an apply, what was done). {@code changed} is {@link
     * #NOT_COMPARED} where an apply that only inserts did not compare the rows both sides hold.
     * {@code reset}: why the table's keys are not the backup's (then {@code collisions} counts the keys both
     * sides hold with different rows); {@code notes}: what the apply did besides inserting and resetting.
     */
    public record TableReport(String table, boolean existsLive, boolean primaryKey, long backupRows, long liveRows,
            long missing, long changed, long onlyLive, List<String> missingSamples, List<String> changedSamples,
            long inserted, long updated, boolean recreated, Optional<String> reset, long collisions,
            List<String> collisionSamples, List<String> notes) {
    }

    public static final long NOT_COMPARED = -1;

    /** Large objects the backup and the database hold; {@code restored}, {@code bytes}: what an apply wrote. */
    public record LargeObjectsReport(long inBackup, long live, long missing, List<Long> samples, long restored,
            long bytes) {
        public static final LargeObjectsReport NONE = new LargeObjectsReport(0, 0, 0, List.of(), 0, 0);
    }

    /**
     * {@code recreatedObjects}: views and materialized views that came back with a dropped table;
     * {@code notRecreated}: those that could not (name → why): the apply committed what it could and is
     * not a success while any is missing. {@code xid}: the apply's transaction, 0 without one.
     */
    public record Result(String backupFile, List<TableReport> tables, boolean applied, Optional<Path> safetyBackup,
            Duration duration, LargeObjectsReport largeObjects, List<String> recreatedObjects,
            Map<String, String> notRecreated, long xid) {
        public Result {
            recreatedObjects = List.copyOf(recreatedObjects);
            notRecreated = Map.copyOf(notRecreated);
        }


        public boolean nothingToDo() {
            return largeObjects.missing() == 0 && tables.stream().allMatch(t -> t.existsLive() && t.missing() == 0
                    && t.changed() <= 0 && t.collisions() == 0);
        }
    }

    public Result run(Target target, Request request) {
        long started = System.nanoTime();
        Path archive = request.backup().file();
        // The archive's sha256 is checked beside the work (it is read anyway): awaited before
        // anything is shown, confirmed or committed.
        CompletableFuture<Void> integrity = Background.supply("sha256-" + archive.getFileName(), () -> {
            Restore.checkIntegrity(archive, request.backup().manifest());
            return null;
        });
        Database db = new Database(target);
        try (Connection c = db.connect()) {
            c.setAutoCommit(false);
            Provenance provenance = Provenance.of(c, request.backup().manifest(), request.recoveredXids());
            List<TablePlan> plans = new ArrayList<>();
            for (String typed : request.tables()) {
                for (TablePlan p : TablePlan.look(c, typed, request)) {
                    if (plans.stream().noneMatch(o -> o.quoted.equals(p.quoted))) {
                        plans.add(p);
                    }
                }
            }
            TablePlan.orderParentsFirst(c, plans);
            for (TablePlan p : plans) {
                if (p.live) {
                    p.reset = provenance.reset(c, p);
                }
            }
            List<String> liveTables = plans.stream().filter(p -> p.live).map(p -> p.quoted).toList();
            Triggers triggers = Triggers.prepare(c, liveTables);
            boolean withLargeObjects = request.largeObjects() || LargeObjects.referencedBy(c, liveTables);
            if (request.apply() && request.confirmation().given() && request.missing() && !request.changed()
                    && !withLargeObjects && !plans.isEmpty() && !triggers.needsLocks()
                    && plans.stream().allMatch(p -> p.live && p.reset.isEmpty())) {
                return new InsertAtOnce(settings, backup, tools, reader).run(c, target, archive, plans, started,
                        integrity, provenance, triggers);
            }
            int n = 0;
            for (TablePlan p : plans) {
                n++;
                if (p.live) {
                    rows.load(c, archive, p, "pg_temp.backstop_recover_" + n);
                    RowDiff.compare(c, p, provenance);
                }
            }
            LargeObjectsReport objects = withLargeObjects ? LargeObjects.run(c, tools, reader, archive,
                    settings.pgDump().timeout(), false) : LargeObjectsReport.NONE;
            Background.join(integrity); // a file that no longer matches its manifest is refused
            List<TableReport> reports = plans.stream().map(p -> p.report(0, 0, false)).toList();
            boolean work = objects.missing() > 0 || reports.stream().anyMatch(t -> !t.existsLive()
                    || (request.missing() && t.missing() > 0) || (request.changed() && t.changed() > 0)
                    || (t.collisions() > 0 && request.onCollision() != OnCollision.KEEP_NEW));
            if (!request.apply() || !work) {
                c.rollback();
                log.info("recover {}: compared {} tables with {}{}", target.name(), plans.size(), archive.getFileName(),
                        request.apply() ? "; nothing to apply" : " (dry run)");
                return new Result(archive.toString(), reports, false, Optional.empty(), took(started), objects,
                        List.of(), Map.of(), 0);
            }
            refuseUndecided(c, plans, request);
            String what = (reports.isEmpty() ? "" : describe(reports, request.missing(), request.changed(),
                    request.onCollision()) + (objects.missing() > 0 ? ", " : "")) + (objects.missing() > 0
                    ? String.format("%,d LARGE OBJECTS put back under their OIDs", objects.missing()) : "");
            if (!request.confirmation().confirm(target.database(), what)) {
                c.rollback();
                throw new BackstopException(ExitCode.USAGE, "not confirmed; nothing was changed");
            }
            SafetyBackup safety = new SafetyBackup(backup, target, liveTables);
            safety.start();
            try {
                return apply(c, target, archive, plans, request, provenance, triggers, safety, started,
                        withLargeObjects ? Optional.of(objects) : Optional.empty());
            } catch (SQLException | RuntimeException e) {
                throw rolledBack(c, target, safety, e);
            }
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DUMP_FAILED, "recover of target " + target.name() + " failed: "
                    + e.getMessage(), e);
        }
    }

    /**
     * Collisions are never settled silently: the apply is refused while any exist and no choice was made,
     * and --rekey-new is refused where fresh keys cannot be drawn. Nothing has been written yet.
     */
    private static void refuseUndecided(Connection c, List<TablePlan> plans, Request request) throws SQLException {
        List<TablePlan> colliding = plans.stream().filter(p -> p.collisions > 0).toList();
        if (colliding.isEmpty()) {
            return;
        }
        if (request.onCollision() == OnCollision.REFUSE) {
            c.rollback();
            throw new BackstopException(ExitCode.USAGE, "nothing was changed: " + colliding.stream().map(p ->
                    String.format("%s holds %,d keys that the backup's rows also hold with other values (%s; e.g. %s)",
                            p.quoted, p.collisions, p.reset.orElse(""), String.join("; ", p.collisionSamples)))
                    .collect(Collectors.joining("; ")) + ". Say which rows win: --rekey-new (the rows written since"
                    + " move to fresh keys and both survive), --keep-new or --keep-old");
        }
        if (request.onCollision() == OnCollision.REKEY_NEW) {
            for (TablePlan p : colliding) {
                Optional<String> unable = Rekey.unable(c, p);
                if (unable.isPresent()) {
                    c.rollback();
                    throw new BackstopException(ExitCode.USAGE, "--rekey-new cannot move the rows of " + p.quoted + ": "
                            + unable.get() + "; allowed there: --keep-new or --keep-old. Nothing was changed");
                }
            }
        }
    }

    /**
     * The apply, in one transaction: tables to recreate first (with what depended on them), then each
     * live table's collisions settled, missing rows inserted, changed rows reset, sequences moved; large
     * objects; the triggers put back as they were and the foreign keys checked; committed once the safety
     * backup is verified.
     */
    private Result apply(Connection c, Target target, Path archive, List<TablePlan> plans, Request request,
            Provenance provenance, Triggers triggers, SafetyBackup safety, long started,
            Optional<LargeObjectsReport> comparedObjects) throws SQLException {
        boolean altersTables = !triggers.replica() && request.onCollision() == OnCollision.REKEY_NEW
                && plans.stream().anyMatch(p -> p.collisions > 0);
        if (triggers.needsLocks() || altersTables) {
            // Its pg_dump must be done before triggers or foreign keys are altered (ACCESS EXCLUSIVE locks).
            safety.await();
        }
        triggers.disable(c);
        long xid = ForeignKeys.begin(c);
        List<TableReport> done = new ArrayList<>();
        List<String> foreignKeys = new ArrayList<>();
        List<Definition.Dependent> dependents = new ArrayList<>();
        Set<String> written = new LinkedHashSet<>();
        List<String> addBack = new ArrayList<>();
        boolean keysMoved = false;
        int n = 0;
        for (TablePlan p : plans) {
            n++;
            if (!p.live) {
                Recreate.Done recreated = recreate.recreate(c, target, archive, p, request, triggers);
                foreignKeys.addAll(recreated.foreignKeys());
                dependents.addAll(recreated.dependents());
                written.addAll(recreated.tables());
                done.add(p.report(p.backupRows, 0, true));
                continue;
            }
            if (keysMoved) {
                RowDiff.compare(c, p, provenance); // a parent's keys moved: its referencing rows changed
            }
            if (p.collisions > 0) {
                switch (request.onCollision()) {
                    case REKEY_NEW -> {
                        try {
                            keysMoved |= Rekey.run(c, p, provenance, n, written, !triggers.replica(), addBack) > 0;
                        } catch (SQLException e) {
                            if ("42501".equals(e.getSQLState())) {
                                throw Rekey.cannotMove(p, e);
                            }
                            throw e;
                        }
                    }
                    case KEEP_OLD -> p.notes.add(String.format("%,d rows written since the backup were overwritten by"
                            + " the backup's rows with the same keys (--keep-old)", RowDiff.resetChanged(c, p)));
                    case KEEP_NEW -> p.notes.add(String.format("%,d rows of the backup were left out: rows written since"
                            + " hold their keys (--keep-new)", p.collisions));
                    default -> throw new IllegalStateException("collisions of " + p.quoted + " undecided");
                }
            }
            long inserted = request.missing() ? RowDiff.insertMissing(c, p, provenance) : 0;
            long updated = request.changed() && p.reset.isEmpty() ? RowDiff.resetChanged(c, p) : 0;
            RowDiff.moveSequences(c, p.quoted);
            written.add(p.quoted);
            done.add(p.report(inserted, updated, false));
        }
        for (String fk : foreignKeys) {
            Recreate.addForeignKey(c, fk);
        }
        for (String fk : addBack) {
            Jdbc.execute(c, fk); // validated by the server: a violation rolls the apply back, naming the key
        }
        List<String> recreatedObjects = new ArrayList<>();
        Map<String, String> notRecreated = new LinkedHashMap<>();
        Recreate.createDependents(c, dependents, notRecreated, recreatedObjects);
        // The archive's large objects are read again only to write what the comparison found missing, or for a
        // recreated table that holds their OIDs (it could not be looked at before it existed).
        boolean putBack = comparedObjects.isPresent() ? comparedObjects.get().missing() > 0
                : LargeObjects.referencedBy(c, done.stream().filter(TableReport::recreated).map(TableReport::table).toList());
        LargeObjectsReport objects = putBack ? LargeObjects.run(c, tools, reader, archive, settings.pgDump().timeout(),
                true) : LargeObjectsReport.NONE;
        triggers.restore(c);
        if (triggers.replica() || keysMoved) {
            ForeignKeys.check(c, written, xid);
        }
        flushStatistics(c);
        Optional<Path> saved = safety.await();
        c.commit();
        logApplied(target, archive, done);
        if (objects.restored() > 0) {
            log.info("recover {}: {} large objects put back under their OIDs ({} bytes)", target.name(),
                    objects.restored(), objects.bytes());
        }
        if (!notRecreated.isEmpty()) {
            log.warn("recover {}: applied, but these objects that depended on the recreated tables could not be created:"
                    + " {}", target.name(), notRecreated);
        }
        return new Result(archive.toString(), done, true, saved, took(started), objects, recreatedObjects, notRecreated,
                xid);
    }

    /** Rolls back after a failure, waits for a safety backup that was started, and says both. */
    static BackstopException rolledBack(Connection c, Target target, SafetyBackup safety, Exception e) {
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

    static void logApplied(Target target, Path archive, List<TableReport> done) {
        log.info("recover {}: applied in one transaction from {}: {}", target.name(), archive.getFileName(),
                done.stream().map(t -> t.table() + (t.recreated() ? " recreated with " + t.inserted() + " rows"
                        : " +" + t.inserted() + (t.updated() > 0 ? ", " + t.updated() + " reset" : "")))
                        .collect(Collectors.joining("; ")));
    }

    /**
     * The apply's writes reach the statistics collector's counters at its commit (PostgreSQL 15 and newer;
     * older servers send them within half a second): the alarm's next look at the update counters starts
     * after them, instead of taking recover's own updates for a mass update.
     */
    static void flushStatistics(Connection c) throws SQLException {
        if (Jdbc.number(c, "SELECT current_setting('server_version_num')::int") >= 150000) {
            Jdbc.execute(c, "SELECT pg_stat_force_next_flush()");
        }
    }

    static Duration took(long started) {
        return Duration.ofNanos(System.nanoTime() - started);
    }

    static String describe(List<TableReport> reports, boolean missing, boolean changed, OnCollision onCollision) {
        return reports.stream().map(t -> !t.existsLive() ? "RECREATE " + t.table() + " with " + t.backupRows() + " rows"
                : (t.collisions() > 0 ? switch (onCollision) {
                    case REKEY_NEW -> "MOVE " + t.collisions() + " rows written since to fresh keys in " + t.table() + ", ";
                    case KEEP_OLD -> "OVERWRITE " + t.collisions() + " rows written since in " + t.table() + ", ";
                    default -> "";
                } : "") + (missing ? "INSERT " + (t.missing() + (onCollision == OnCollision.REKEY_NEW ? t.collisions()
                        : 0)) + " missing rows into " + t.table() : t.table() + ":")
                        + (changed && t.changed() > 0 ? " RESET " + t.changed() + " changed rows" : ""))
                .collect(Collectors.joining(", ")) + " (rows written since the backup are kept"
                + (onCollision == OnCollision.KEEP_OLD ? ", except those --keep-old overwrites" : "") + ")";
    }


}
