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
 * The restore drill: restore a backup into a scratch database {@code backstop_drill_<random>},
 * compare every table's count with the manifest exactly, record the result in the manifest,
 * and drop the scratch database whatever happened. Scratch databases left by a killed
 * process are swept at start.
 */
public final class Drill {
    private static final Logger log = LoggerFactory.getLogger(Drill.class);
    static final String PREFIX = "backstop_drill_";
    private static final String LEFTOVERS = "SELECT datname FROM pg_database WHERE datname LIKE 'backstop\\_drill\\_%'";

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

    public Result run(Target target, Resolver.Resolved backup) {
        long started = System.nanoTime();
        String scratch = PREFIX + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        Database db = new Database(target);
        boolean passed;
        String details;
        log.info("restore drill of {} into {} started", backup.file().getFileName(), scratch);
        try {
            PgRestore.checkIntegrity(backup.file(), backup.manifest());
            DatabaseProperties properties = DatabaseProperties.read(tools, backup.file(), timeout);
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
        } finally {
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

    /** Drops scratch databases a killed drill left behind. */
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
        for (String name : names) {
            log.info("dropping {}, left by a restore drill that was interrupted", name);
            try {
                PgRestore.drop(db, name);
            } catch (BackstopException e) {
                log.warn("cannot drop leftover drill database {}: {}", name, e.getMessage());
            }
        }
        return names;
    }
}
