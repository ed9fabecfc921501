package io.backstop.recover;

import io.backstop.catalog.Archive;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Jdbc;
import io.backstop.pg.PgTools;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A table (and its schema) that no longer exists, recreated from the backup as it was, its rows with
 * it, and then what depended on it: the views and materialized views a {@code DROP … CASCADE} took
 * along (a materialized view with its indexes, refreshed once its tables hold their rows).
 */
final class Recreate {
    private static final Logger log = LoggerFactory.getLogger(Recreate.class);

    private final Settings settings;
    private final PgTools tools;
    private final Archive reader;

    Recreate(Settings settings, PgTools tools, Archive reader) {
        this.reader = reader;
        this.settings = settings;
        this.tools = tools;
    }

    /** What one recreate did: the tables it created, the foreign keys to add last, the dependents to create. */
    record Done(List<String> tables, List<String> foreignKeys, List<Definition.Dependent> dependents) {
    }

    /** Recreates a table (and its schema when that is gone too) from the backup, with its rows. */
    Done recreate(Connection c, Target target, Path archive, TablePlan p, Recover.Request request, Triggers triggers)
            throws SQLException {
        boolean schemaGone = Jdbc.one(c, "SELECT nspname FROM pg_namespace WHERE nspname = ?", p.name.schema()).isEmpty();
        Definition def = Definition.read(settings, tools, reader, target, request.backup(), p.name, schemaGone,
                query -> exists(c, query));
        for (String statement : def.ddl()) {
            Jdbc.execute(c, statement);
        }
        Jdbc.execute(c, "SELECT pg_catalog.set_config('search_path', '', true)");
        List<String> created = new ArrayList<>();
        long rows = 0;
        for (QualifiedName t : def.tables()) {
            String quoted = Jdbc.quoted(c, t.schema(), t.table());
            triggers.disableOnCreated(c, quoted);
            Optional<ArchiveRows.Loaded> loaded = ArchiveRows.copy(tools, reader, archive, t.schema(), t.table(), c,
                    quoted, settings.pgDump().timeout());
            loaded.ifPresent(l -> log.info("recover {}: {} recreated with {} rows", target.name(), t, l.rows()));
            rows += loaded.map(ArchiveRows.Loaded::rows).orElse(0L);
            RowDiff.moveSequences(c, quoted);
            created.add(quoted);
        }
        p.backupRows = rows;
        return new Done(created, def.referencing(), def.dependents());
    }

    /**
     * Creates the views that depended on recreated tables, each on its own savepoint: one that cannot
     * be created (it also needs a table that is still gone) is named in {@code failed} and the others
     * go on; one that a later table made possible is removed from it.
     */
    static void createDependents(Connection c, List<Definition.Dependent> dependents, Map<String, String> failed,
            List<String> created) throws SQLException {
        for (Definition.Dependent d : dependents) {
            if (exists(c, d.exists())) {
                continue;
            }
            Savepoint sp = c.setSavepoint();
            try {
                for (String statement : d.ddl()) {
                    Jdbc.execute(c, statement);
                }
                if (d.materialized()) {
                    Jdbc.execute(c, "REFRESH MATERIALIZED VIEW " + d.name());
                }
                Jdbc.execute(c, "SELECT pg_catalog.set_config('search_path', '', true)");
                c.releaseSavepoint(sp);
                failed.remove(d.kind() + " " + d.name());
                created.add(d.kind() + " " + d.name());
            } catch (SQLException e) {
                c.rollback(sp);
                failed.put(d.kind() + " " + d.name(), e.getMessage());
            }
        }
    }

    /** Whether {@code query} (a Dependent's existence query, written with the server's quoting) finds a row. */
    private static boolean exists(Connection c, String query) {
        try {
            return Jdbc.number(c, "SELECT count(*) FROM (" + query + ") x") > 0;
        } catch (SQLException e) {
            throw new io.backstop.BackstopException(io.backstop.ExitCode.DATABASE_UNREACHABLE,
                    "cannot look up " + query + ": " + e.getMessage(), e);
        }
    }

    /**
     * A foreign key of a table that still exists, pointing at a recreated one. Rows written since
     * may not match: then it is added NOT VALID (new rows are checked, old ones are not) and said so.
     */
    static void addForeignKey(Connection c, String fk) throws SQLException {
        Savepoint sp = c.setSavepoint();
        try {
            Jdbc.execute(c, fk);
            c.releaseSavepoint(sp);
        } catch (SQLException e) {
            c.rollback(sp);
            Jdbc.execute(c, fk + " NOT VALID");
            log.warn("recover: {} added NOT VALID: existing rows do not all match ({}); fix them, then VALIDATE"
                    + " CONSTRAINT", fk, e.getMessage());
        }
    }
}
