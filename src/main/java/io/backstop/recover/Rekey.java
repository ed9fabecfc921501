package io.backstop.recover;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.pg.Jdbc;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code --rekey-new}: the rows written since the backup that hold a key the backup's rows also hold
 * move to fresh keys from the table's own sequence, and the rows written since that reference them
 * (by a foreign key on that key, in any table, the table itself included) follow; then the backup's
 * rows go back under their own keys, so both survive. Rows that were there at the backup and
 * reference such a key keep it: it was their old row's key, and that row comes back.
 *
 * <p>Where the apply runs as a replica the server checks no foreign key while keys move, and {@link
 * ForeignKeys} checks them before the commit. Where it cannot (a table owner that is no superuser), a key
 * and the rows that reference it cannot move one after the other under a checked foreign key: those
 * foreign keys are dropped inside the transaction and added again once every table holds its rows, which
 * makes the server validate them; no other session sees them missing.
 */
final class Rekey {
    private static final int SHOWN = 5;

    private Rekey() {
    }

    /** Why {@code p}'s colliding rows cannot be moved to fresh keys; empty when they can. */
    static Optional<String> unable(Connection c, TablePlan p) throws SQLException {
        if (p.pk.size() != 1 || !p.integerKey) {
            return Optional.of("its primary key is not one integer column");
        }
        if (sequence(c, p).isEmpty()) {
            return Optional.of("its key " + p.pk.get(0) + " is not drawn from a sequence (serial or identity)");
        }
        return Optional.empty();
    }

    private static Optional<String> sequence(Connection c, TablePlan p) throws SQLException {
        return Jdbc.one(c, "SELECT pg_get_serial_sequence(?, a.attname) FROM pg_attribute a WHERE a.attrelid ="
                + " ?::regclass AND quote_ident(a.attname) = ? AND NOT a.attisdropped", p.quoted, p.quoted, p.pk.get(0));
    }

    /** Moves the colliding rows written since; returns how many moved, and says where in {@code p.notes}. */
    static long run(Connection c, TablePlan p, Provenance provenance, int n, java.util.Set<String> written,
            boolean serverChecksKeys, List<String> addBack) throws SQLException {
        String key = p.pk.get(0);
        String seq = sequence(c, p).orElseThrow();
        String map = "backstop_rekey_" + n;
        // Fresh keys are past every key either side holds: an old row put back never meets a moved one.
        try (PreparedStatement ps = c.prepareStatement("SELECT setval(?::regclass, greatest((SELECT max(" + key
                + ") FROM ONLY " + p.quoted + "), (SELECT max(" + key + ") FROM " + p.temp + "), (SELECT last_value FROM "
                + seq + "))::bigint, true)")) {
            ps.setString(1, seq);
            ps.executeQuery().close();
        }
        Jdbc.execute(c, "CREATE TEMP TABLE " + map + " ON COMMIT DROP AS SELECT old_key, nextval('" + seq.replace("'",
                "''") + "'::regclass) AS new_key FROM (" + RowDiff.collidingKeys(c, p) + " ORDER BY 1) k(old_key)");
        Jdbc.execute(c, "ALTER TABLE " + map + " ADD PRIMARY KEY (old_key)");
        List<Reference> references = referencing(c, p);
        if (serverChecksKeys) {
            for (Reference r : references) {
                Jdbc.execute(c, "ALTER TABLE " + r.table() + " DROP CONSTRAINT " + r.constraint());
            }
        }
        long moved = Jdbc.update(c, "UPDATE ONLY " + p.quoted + " l SET " + key + " = m.new_key FROM " + map
                + " m WHERE l." + key + " = m.old_key");
        List<String> shown = Jdbc.strings(c, "SELECT old_key || '→' || new_key FROM " + map + " ORDER BY old_key LIMIT "
                + SHOWN);
        Map<String, Long> followed = new LinkedHashMap<>();
        for (Reference r : references) {
            long rows = Jdbc.update(c, "UPDATE " + r.target() + " c SET " + r.column() + " = m.new_key FROM " + map
                    + " m WHERE c." + r.column() + " = m.old_key AND NOT " + provenance.wasThere("c"));
            if (rows > 0) {
                followed.merge(r.table() + "." + r.column(), rows, Long::sum);
                written.add(r.table());
            }
        }
        if (serverChecksKeys) {
            // Added back (and so validated) once every table of the apply holds its rows: the old rows these
            // keys point at go back after this.
            references.forEach(r -> addBack.add("ALTER TABLE " + r.table() + " ADD CONSTRAINT " + r.constraint() + " "
                    + r.definition()));
        }
        if (moved == 0) {
            return 0;
        }
        p.notes.add(String.format("moved %,d rows written since the backup to fresh keys (%s%s)%s", moved,
                String.join(", ", shown), moved > SHOWN ? ", …" : "", followed.isEmpty() ? ""
                        : "; the rows written since that referenced them followed: " + String.join(", ", followed
                                .entrySet().stream().map(e -> e.getKey() + " " + String.format("%,d", e.getValue()))
                                .toList())));
        return moved;
    }

    /**
     * A foreign key of one column on the moving key: the referencing table (and as an UPDATE target, ONLY
     * where it has no partitions), its column, and the constraint's name and definition.
     */
    private record Reference(String table, String target, String column, String constraint, String definition) {
    }

    private static List<Reference> referencing(Connection c, TablePlan p) throws SQLException {
        List<Reference> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT format('%I.%I', n.nspname, ch.relname), CASE WHEN ch.relkind = 'p' THEN '' ELSE 'ONLY ' END,
                       quote_ident(a.attname), quote_ident(k.conname), pg_get_constraintdef(k.oid)
                  FROM pg_constraint k
                  JOIN pg_class ch ON ch.oid = k.conrelid JOIN pg_namespace n ON n.oid = ch.relnamespace
                  JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
                  JOIN pg_attribute r ON r.attrelid = k.confrelid AND r.attnum = k.confkey[1]
                 WHERE k.contype = 'f' AND k.confrelid = ?::regclass AND cardinality(k.conkey) = 1
                   AND quote_ident(r.attname) = ? AND k.conparentid = 0
                 ORDER BY 1, 2""")) {
            ps.setString(1, p.quoted);
            ps.setString(2, p.pk.get(0));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new Reference(rs.getString(1), rs.getString(2) + rs.getString(1), rs.getString(3),
                            rs.getString(4), rs.getString(5)));
                }
            }
        }
        return out;
    }

    /** The login may neither act as a replica nor alter the tables whose foreign keys point at the moving key. */
    static BackstopException cannotMove(TablePlan p, SQLException e) {
        return new BackstopException(ExitCode.USAGE, "--rekey-new cannot move the keys of " + p.quoted + " while rows"
                + " reference them (" + e.getMessage() + "); allowed: a login that may SET session_replication_role"
                + " (a superuser, or GRANT SET ON PARAMETER session_replication_role, PostgreSQL 15+), or the owner of"
                + " the tables that reference it; or --keep-new / --keep-old", e);
    }
}
