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
 * While it runs the drill holds a connection to its scratch database; the start-up sweep drops
 * only scratch databases nobody is connected to (a plain DROP, which the server refuses while a
 * session is there) and that are older than a minute, so a daemon start never destroys a
 * {@code verify} that another process is running.
 */
public final class Drill {
    private static final Logger log = LoggerFactory.getLogger(Drill.class);
    static final String PREFIX = "backstop_drill_";
    private static final String LEFTOVERS = """
            SELECT d.datname FROM pg_database d
             WHERE d.datname LIKE 'backstop\\_drill\\_%'
               AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)
            """;
    /** A scratch database this young may be between its CREATE and the drill's first connection. */
    private static final Duration SWEEP_MIN_AGE = Duration.ofMinutes(1);

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
        String scratch = PREFIX + clock.instant().getEpochSecond() + "_"
                + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        Connection holder = null;
        Database db = new Database(target);
        boolean passed;
        String details;
        log.info("restore drill of {} into {} started", backup.file().getFileName(), scratch);
        try {
            PgRestore.checkIntegrity(backup.file(), backup.manifest());
            DatabaseProperties properties = DatabaseProperties.read(tools, backup.file(), timeout);
            PgRestore.create(db, scratch, properties);
            holder = db.connect(scratch); // says "in use" to any sweep until the drill is done
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
        } finally {
            closeQuietly(holder);
            try {
                PgRestore.drop(db, scratch);
            } catch (BackstopException e) {
                log.warn("could not drop scratch database {}: {}; it is swept at the next start", scratch, e.getMessage());
            }
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

    /** Whether {@code name}'s embedded creation time (absent in old names) is old enough to sweep. */
    private boolean oldEnough(String name) {
        String rest = name.substring(PREFIX.length());
        int us = rest.indexOf('_');
        if (us <= 0) {
            return true;
        }
        try {
            long created = Long.parseLong(rest.substring(0, us));
            return clock.instant().getEpochSecond() - created >= SWEEP_MIN_AGE.toSeconds();
        } catch (NumberFormatException e) {
            return true;
        }
    }

    /** Drops scratch databases a killed drill left behind: never one in use or just created. */
    public List<String> sweep(Target target) {
        Database db = new Database(target);
        List<String> names = new ArrayList<>();
        try (Connection c = db.connect("postgres"); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(LEFTOVERS)) {
            while (rs.next()) {
                names.add(rs.getString(1));
            }
        } catch (SQLException | BackstopException e) {
            // The database may be down at start: the daemon must start anyway; the next start sweeps.
            log.warn("cannot look for leftover drill databases of target {}: {}", target.name(), e.getMessage());
            return List.of();
        }
        List<String> dropped = new ArrayList<>();
        for (String name : names) {
            if (!oldEnough(name)) {
                continue;
            }
            try {
                PgRestore.dropUnused(db, name);
                log.info("dropped {}, left by a restore drill that was interrupted", name);
                dropped.add(name);
            } catch (BackstopException e) {
                log.info("not dropping {}: {} (a drill is using it)", name, e.getMessage());
            }
        }
        return dropped;
    }
}
