package io.backstop.verify;

import io.backstop.BackstopException;
import io.backstop.catalog.Archive;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Manifests;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.files.Sizes;
import io.backstop.pg.Database;
import io.backstop.pg.PgTools;
import io.backstop.restore.DatabaseProperties;
import io.backstop.restore.PgRestore;
import io.backstop.restore.Resolver;
import io.backstop.restore.RestoreFailures;
import io.backstop.verify.DrillSite;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The restore drill: restore a backup into a scratch database {@code backstop_drill_<random>} on
 * a {@link DrillSite} (by default a throwaway local cluster, never the production server),
 * created as the archive describes it; compare every table's count with the manifest exactly
 * and apply the database's properties; record the result in the manifest; and remove the
 * scratch database (and cluster) whatever happened. On a server, the drill holds an advisory
 * lock named after its scratch database from before it is created until after it is dropped;
 * the start-up sweep drops only what it can lock, so it never destroys a drill another process
 * is running. Local clusters of killed drills are swept the same way, by their owner's pid.
 * When no site is possible the drill is reported as not run: never as passed.
 */
public final class Drill {
    private static final Logger log = LoggerFactory.getLogger(Drill.class);
    static final String PREFIX = "backstop_drill_";
    private static final String LEFTOVERS = "SELECT datname FROM pg_database WHERE datname LIKE 'backstop\\_drill\\_%'";
    /** The lock a drill holds on its scratch database's name, in the maintenance database. */
    public static final String HOLD = "SELECT pg_advisory_lock(1112822864, hashtext(?))";
    private static final String TRY_HOLD = "SELECT pg_try_advisory_lock(1112822864, hashtext(?))";
    private static final String RELEASE = "SELECT pg_advisory_unlock(1112822864, hashtext(?))";
    private static final String SIZE = "SELECT pg_database_size(current_database())";
    /** A restored database is about this many times its custom-format dump when the manifest does not say. */
    private static final long DUMP_TO_DATABASE = 5;

    private final Settings settings;
    private final PgTools tools;
    private final Archive reader;
    private final Manifests manifests;
    private final Duration timeout;
    private final Clock clock;
    private final PitrDrill pitr;

    public Drill(Settings settings, PgTools tools, Manifests manifests, Clock clock, Archive reader) {
        this.reader = reader;
        this.settings = settings;
        this.tools = tools;
        this.manifests = manifests;
        this.timeout = settings.pgDump().timeout();
        this.clock = clock;
        this.pitr = new PitrDrill(settings, tools, manifests.json());
    }

    /**
     * The PITR drill of {@code backup} (a local dump): its base backup and the archived WAL replayed to its
     * snapshot, counted against its manifest. Not run when the target has no PITR.
     */
    public PitrDrill.Result pitr(Target target, Resolver.Resolved backup) {
        if (!target.pitr().enabled()) {
            return new PitrDrill.Result(false, false, "PITR is off for " + target.name(), Duration.ZERO);
        }
        return pitr.run(target, backup.file(), backup.manifest());
    }

    /**
     * {@code ran} false: no site was possible (or it had no room) and {@code details} says why.
     * {@code restoredBytes}: the scratch database's size, the restore time objective's other half.
     */
    public record Result(boolean passed, boolean ran, String details, Duration duration, long restoredBytes,
            String site, Manifest.Drill recorded) {
        public static Result notRun(String why, Duration took) {
            return new Result(false, false, why, took, 0, null, null);
        }
    }

    /** Refuses, with {@link io.backstop.ExitCode#BAD_BACKUP}, a file that no longer matches its manifest. */
    public void requireIntact(Resolver.Resolved backup) {
        PgRestore.checkIntegrity(backup.file(), backup.manifest());
    }

    public Result run(Target target, Resolver.Resolved backup) {
        long started = System.nanoTime();
        Manifest m = backup.manifest();
        if (io.backstop.catalog.BackupLayout.isEncrypted(backup.file()) && !reader.hasIdentity()) {
            // encryption.local: this process holds only public keys. Not a failed drill: one that cannot run here.
            String why = backup.file().getFileName() + " is encrypted and this process has no age identity: drill it"
                    + " where the identity is (backstop verify offsite:latest --identity KEY on another host), or give"
                    + " the daemon BACKSTOP_AGE_IDENTITY_FILE";
            log.warn("restore drill of {} NOT RUN: {}", backup.file().getFileName(), why);
            return Result.notRun(why, Duration.ofNanos(System.nanoTime() - started));
        }
        long need = m.databaseSizeBytes() > 0 ? m.databaseSizeBytes() : m.sizeBytes() * DUMP_TO_DATABASE;
        DrillSite site;
        try {
            site = DrillSite.open(settings, tools, target, need);
        } catch (BackstopException e) {
            // No site (no binaries, no room, a cluster that would not start): the backup is not proved
            // bad, but nothing proved it good either. Reported as not run, never as passed.
            log.warn("restore drill of {} NOT RUN: {}", backup.file().getFileName(), e.getMessage());
            return Result.notRun(e.getMessage(), Duration.ofNanos(System.nanoTime() - started));
        }
        String scratch = PREFIX + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        Database db = new Database(site.server());
        Connection holder = null;
        boolean passed;
        String details;
        long restoredBytes = 0;
        log.info("restore drill of {} into {} on {} started", backup.file().getFileName(), scratch, site.describe());
        try {
            PgRestore.checkIntegrity(backup.file(), m);
            DatabaseProperties properties = DatabaseProperties.read(tools, reader, backup.file(), timeout);
            holder = db.connect("postgres");
            hold(holder, HOLD, scratch); // says "in use" to any sweep until the drill is done
            PgRestore.create(db, scratch, properties);
            List<RestoreFailures.Failure> failed = new PgRestore(tools, reader, timeout).restore(site.server(), db,
                    backup.file(), scratch, 1, true);
            List<String> notes = PgRestore.applyProperties(db, scratch, properties);
            Map<String, Long> restored = PgRestore.count(db, scratch, m.rowCounts());
            restoredBytes = size(db, scratch);
            List<String> problems = new ArrayList<>();
            failed.forEach(f -> problems.add("pg_restore failed on " + f.describe()));
            problems.addAll(PgRestore.differences(m.rowCounts(), restored));
            notes.forEach(n -> problems.add("database property " + n));
            passed = problems.isEmpty();
            details = passed ? restored.size() + " tables, " + restored.values().stream().mapToLong(Long::longValue).sum()
                    + " rows, all as in the manifest; database properties applied; " + Sizes.bytes(restoredBytes)
                    + " restored on " + site.describe()
                    : problems.size() + " problems: " + String.join("; ", problems);
        } catch (BackstopException e) {
            passed = false;
            details = e.getMessage();
        } catch (SQLException e) {
            passed = false;
            details = "cannot take the drill's lock: " + e.getMessage();
        } finally {
            try {
                if (site.kind() != DrillSite.Kind.LOCAL_CLUSTER) {
                    PgRestore.drop(db, scratch);
                }
            } catch (BackstopException e) {
                log.warn("could not drop scratch database {}: {}; it is swept at the next start", scratch, e.getMessage());
            }
            closeQuietly(holder);
            site.close();
        }
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        Manifest.Drill record = new Manifest.Drill(Instant.now(clock), passed ? "passed" : "failed",
                took.toMillis() / 1000.0, details);
        try {
            manifests.write(backup.file(), manifests.read(backup.file()).withDrill(record));
        } catch (BackstopException e) {
            log.warn("could not record the drill in the manifest of {}: {}", backup.file(), e.getMessage());
        }
        if (passed) {
            log.info("restore drill of {} passed: {} ({})", backup.file().getFileName(), details, Sizes.seconds(took));
        } else {
            log.warn("restore drill of {} FAILED: {}. Do not rely on this backup: take a new one (backstop backup) and"
                    + " run backstop verify.", backup.file().getFileName(), details);
        }
        return new Result(passed, true, details, took, restoredBytes, site.describe(), record);
    }

    private static long size(Database db, String scratch) {
        try (Connection c = db.connect(scratch); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(SIZE)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            return 0;
        }
    }

    private static void closeQuietly(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // the drop ends it anyway
            }
        }
    }

    private static boolean hold(Connection c, String sql, String name) throws SQLException {
        try (java.sql.PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return !"f".equals(rs.getString(1)) && !"false".equals(rs.getString(1));
            }
        }
    }

    /**
     * Cleans up after drills a killed process left: local clusters (by their owner's pid) and
     * scratch databases on a drill server or the target (those nobody holds the lock of).
     */
    public List<String> sweep(Target target) {
        List<String> swept = new ArrayList<>();
        DrillSite.sweep(settings).forEach(p -> swept.add(p.toString()));
        swept.addAll(sweepDatabases(settings.restoreDrill().server().orElse(target)));
        return swept;
    }

    private List<String> sweepDatabases(Target server) {
        Database db = new Database(server);
        List<String> dropped = new ArrayList<>();
        try (Connection c = db.connect("postgres")) {
            List<String> names = new ArrayList<>();
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(LEFTOVERS)) {
                while (rs.next()) {
                    names.add(rs.getString(1));
                }
            }
            for (String name : names) {
                if (!hold(c, TRY_HOLD, name)) {
                    log.info("not dropping {}: a restore drill is using it", name);
                    continue;
                }
                try {
                    PgRestore.drop(db, name);
                    log.info("dropped {}, left by a restore drill that was interrupted", name);
                    dropped.add(name);
                } catch (BackstopException e) {
                    log.warn("cannot drop leftover drill database {}: {}", name, e.getMessage());
                } finally {
                    hold(c, RELEASE, name);
                }
            }
        } catch (SQLException | BackstopException e) {
            // The database may be down at start: the daemon must start anyway; the next start sweeps.
            log.warn("cannot look for leftover drill databases on {}: {}", server.describe(), e.getMessage());
        }
        return dropped;
    }
}
