package io.backstop.recover;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.pg.Jdbc;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The foreign keys of the tables an apply wrote, checked explicitly before the commit: with the
 * transaction running as a replica the server checked none of them. Only rows written since the
 * apply's transaction began are read (their {@code xmin} at or after its own), each key must find its
 * row in the referenced table, and a violation fails the apply with the keys named.
 */
final class ForeignKeys {
    private static final long XID_SPACE = 1L << 32;
    private static final int SAMPLES = 5;

    private ForeignKeys() {
    }

    /** The apply's own transaction id (assigned now if it has none), from which its rows are told. */
    static long begin(Connection c) throws SQLException {
        return Jdbc.number(c, "SELECT pg_current_xact_id()::text::bigint");
    }

    /** Fails, naming the constraint and the keys, when a row written since {@code xid} references nothing. */
    static void check(Connection c, Collection<String> tables, long xid) throws SQLException {
        List<String> violations = new ArrayList<>();
        String recent = "((c.xmin::text::bigint - " + (xid % XID_SPACE) + " + " + XID_SPACE + ") % " + XID_SPACE
                + ") < " + (XID_SPACE / 2);
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT quote_ident(k.conname),
                       CASE WHEN ch.relkind = 'p' THEN '' ELSE 'ONLY ' END || format('%I.%I', chn.nspname, ch.relname),
                       CASE WHEN pa.relkind = 'p' THEN '' ELSE 'ONLY ' END || format('%I.%I', pan.nspname, pa.relname),
                       ARRAY(SELECT quote_ident(a.attname) FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i),
                       ARRAY(SELECT quote_ident(a.attname) FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
                               JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i)
                  FROM pg_constraint k
                  JOIN pg_class ch ON ch.oid = k.conrelid JOIN pg_namespace chn ON chn.oid = ch.relnamespace
                  JOIN pg_class pa ON pa.oid = k.confrelid JOIN pg_namespace pan ON pan.oid = pa.relnamespace
                 WHERE k.contype = 'f' AND k.conrelid = ?::regclass AND k.convalidated
                 ORDER BY 1""")) {
            for (String table : tables) {
                ps.setString(1, table);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String[] cols = (String[]) rs.getArray(4).getArray();
                        String[] refs = (String[]) rs.getArray(5).getArray();
                        List<String> notNull = new ArrayList<>();
                        List<String> match = new ArrayList<>();
                        List<String> shown = new ArrayList<>();
                        for (int i = 0; i < cols.length; i++) {
                            notNull.add("c." + cols[i] + " IS NOT NULL");
                            match.add("p." + refs[i] + " = c." + cols[i]);
                            shown.add("c." + cols[i] + "::text");
                        }
                        List<String> keys = Jdbc.strings(c, "SELECT concat_ws(', ', " + String.join(", ", shown)
                                + ") FROM " + rs.getString(2) + " c WHERE " + recent + " AND " + String.join(" AND ",
                                notNull) + " AND NOT EXISTS (SELECT 1 FROM " + rs.getString(3) + " p WHERE "
                                + String.join(" AND ", match) + ") ORDER BY " + String.join(", ", java.util.Arrays
                                .stream(cols).map(col -> "c." + col).toList()) + " LIMIT " + SAMPLES);
                        if (!keys.isEmpty()) {
                            violations.add(rs.getString(1) + " of " + table + ": (" + String.join(", ", cols) + ") = "
                                    + String.join("; ", keys.stream().map(k -> "(" + k + ")").toList())
                                    + " reference no row of " + rs.getString(3).replaceFirst("^ONLY ", ""));
                        }
                    }
                }
            }
        }
        if (!violations.isEmpty()) {
            throw new BackstopException(ExitCode.DUMP_FAILED, "the rows put back break foreign keys: "
                    + String.join("; ", violations) + ". Recover the tables they reference in the same command");
        }
    }
}
