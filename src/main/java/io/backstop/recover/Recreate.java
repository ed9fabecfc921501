package io.backstop.recover;

import io.backstop.catalog.Archive;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Jdbc;
import io.backstop.pg.PgTools;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A table (and its schema) that no longer exists, recreated from the backup as it was, its rows with it. */
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

    /** Recreates a table (and its schema when that is gone too) from the backup; returns the foreign keys to add last. */
    List<String> recreate(Connection c, Target target, Path archive, TablePlan p, Recover.Request request) throws SQLException {
        boolean schemaGone = Jdbc.one(c, "SELECT nspname FROM pg_namespace WHERE nspname = ?", p.name.schema()).isEmpty();
        Definition def = Definition.read(settings, tools, reader, target, request.backup(), p.name, schemaGone);
        for (String statement : def.ddl()) {
            Jdbc.execute(c, statement);
        }
        Jdbc.execute(c, "SELECT pg_catalog.set_config('search_path', '', true)");
        for (QualifiedName t : def.tables()) {
            Optional<ArchiveRows.Loaded> loaded = ArchiveRows.copy(tools, reader, archive, t.schema(), t.table(), c,
                    Jdbc.quoted(c, t.schema(), t.table()), settings.pgDump().timeout());
            loaded.ifPresent(l -> log.info("recover {}: {} recreated with {} rows", target.name(), t, l.rows()));
            RowDiff.moveSequences(c, Jdbc.quoted(c, t.schema(), t.table()));
        }
        // Foreign keys from tables that still exist, pointing at what was dropped: after every load.
        List<String> fks = new ArrayList<>();
        for (String fk : def.referencing()) {
            fks.add(fk);
        }
        return fks;
    }

    /**
     * A foreign key of a table that still exists, pointing at a recreated one. Rows written since
     * may not match: then it is added NOT VALID (new rows are checked, old ones are not) and said so.
     */
    static void addForeignKey(Connection c, String fk) throws SQLException {
        java.sql.Savepoint sp = c.setSavepoint();
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
