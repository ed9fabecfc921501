package io.backstop.restore;

import io.backstop.BackstopException;
import io.backstop.backup.Manifest;
import io.backstop.backup.Manifests;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Database;
import io.backstop.pg.PgTools;
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
 * The restore drill: restore a backup into a scratch database
 * {@code backstop_drill_<epoch seconds>_<random>}, compare every table's count with the manifest
 * exactly, record the result in the manifest, and drop the scratch database whatever happened.
 * From before its scratch database exists until after it is dropped, the drill holds an advisory
 * lock named after it; the start-up sweep drops only scratch databases whose lock it can take,
 * so a daemon start never destroys a {@code verify} another process is running, and a killed
 * drill (whose session, and so lock, died with it) is cleaned up.
 */
public final class Drill {
    private static final Logger log = LoggerFactory.getLogger(Drill.class);
    static final String PREFIX = "backstop_drill_";
    private static final String LEFTOVERS = "SELECT datname FROM pg_database WHERE datname LIKE 'backstop\\_drill\\_%'";
    /** The lock a drill holds on its scratch database's name, in the maintenance database. */
    public static final String HOLD = "SELECT pg_advisory_lock(1112822864, hashtext(?))";
    private static final String TRY_HOLD = "SELECT pg_try_advisory_lock(1112822864, hashtext(?))";
    private static final String RELEASE = "SELECT pg_advisory_unlock(1112822864, hashtext(?))";

    private final PgTools tools;
    private final Manifests manifests;
    private final Duration timeout;
    private final Clock clock;

    public Drill(PgTools tools, Manifests manifests, Duration timeout, Clock clock) {
        this.tools = tools;
        this.manifests = manifests;
        this.timeout = timeout;
        this.clock = clock;
    }

    public record Result(boolean passed, String details, Duration duration, Manifest.Drill recorded) {
    }

    /** Refuses, with {@link io.backstop.ExitCode#BAD_BACKUP}, a file that no longer matches its manifest. */
    public void requireIntact(Resolver.Resolved backup) {
        PgRestore.checkIntegrity(backup.file(), backup.manifest());
    }

    public Result run(Target target, Resolver.Resolved backup) {
        long started = System.nanoTime();
        String scratch = PREFIX + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        Connection holder = null;
        Database db = new Database(target);
        boolean passed;
        String details;
        log.info("restore drill of {} into {} started", backup.file().getFileName(), scratch);
        try {
            PgRestore.checkIntegrity(backup.file(), backup.manifest());
            DatabaseProperties properties = DatabaseProperties.read(tools, backup.file(), timeout);
            holder = db.connect("postgres");
            hold(holder, HOLD, scratch); // says "in use" to any sweep until the drill is done
            PgRestore.create(db, scratch, properties);
            List<RestoreFailures.Failure> failed = new PgRestore(tools, timeout).restore(target, db, backup.file(),
                    scratch, 1, true);
            List<String> notes = PgRestore.applyProperties(db, scratch, properties);
            Map<String, Long> restored = PgRestore.count(db, scratch, backup.manifest().rowCounts());
            List<String> problems = new ArrayList<>();
            failed.forEach(f -> problems.add("pg_restore failed on " + f.describe()));
            problems.addAll(PgRestore.differences(backup.manifest().rowCounts(), restored));
            notes.forEach(n -> problems.add("database property " + n));
            passed = problems.isEmpty();
            details = passed ? restored.size() + " tables, " + restored.values().stream().mapToLong(Long::longValue).sum()
                    + " rows, all as in the manifest; database properties applied"
                    : problems.size() + " problems: " + String.join("; ", problems);
        } catch (BackstopException e) {
            passed = false;
            details = e.getMessage();
        } catch (SQLException e) {
            passed = false;
            details = "cannot take the drill's lock: " + e.getMessage();
        } finally {
            try {
                PgRestore.drop(db, scratch);
            } catch (BackstopException e) {
                log.warn("could not drop scratch database {}: {}; it is swept at the next start", scratch, e.getMessage());
            }
            closeQuietly(holder);
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
            log.info("restore drill of {} passed: {} ({})", backup.file().getFileName(), details,
                    io.backstop.backup.Sizes.seconds(took));
        } else {
            log.warn("restore drill of {} FAILED: {}. Do not rely on this backup: take a new one (backstop backup) and"
                    + " run backstop verify.", backup.file().getFileName(), details);
        }
        return new Result(passed, details, took, record);
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

    /** Drops scratch databases a killed drill left behind: never one whose drill still holds its lock. */
    public List<String> sweep(Target target) {
        Database db = new Database(target);
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
            log.warn("cannot look for leftover drill databases of target {}: {}", target.name(), e.getMessage());
        }
        return dropped;
    }
}
