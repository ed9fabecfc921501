package io.backstop.recover;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.Archive;
import io.backstop.config.Settings;
import io.backstop.pg.Jdbc;
import io.backstop.pg.PgTools;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * A table's rows in the backup against its live rows, in SQL: the backup's rows loaded into a temporary
 * table of the recovering session, compared by primary key (whole rows where there is none), and the
 * statements that insert what is missing, reset what changed and move sequences past the restored keys.
 */
final class RowDiff {
    static final int SAMPLES = 5;

    private final Settings settings;
    private final PgTools tools;
    private final Archive reader;

    RowDiff(Settings settings, PgTools tools, Archive reader) {
        this.reader = reader;
        this.settings = settings;
        this.tools = tools;
    }

    void load(Connection c, Path archive, TablePlan p, String temp) throws SQLException {
        Jdbc.execute(c, "CREATE TEMP TABLE " + temp.substring("pg_temp.".length()) + " (LIKE " + p.quoted + ")");
        p.temp = temp;
        Optional<ArchiveRows.Loaded> loaded = ArchiveRows.copy(tools, reader, archive, p.name.schema(), p.name.table(), c, temp,
                settings.pgDump().timeout());
        if (loaded.isEmpty()) {
            throw new BackstopException(ExitCode.USAGE, p.quoted + " has no data in " + archive.getFileName()
                    + " (the table was not in the database then, or its data was excluded from the dump)");
        }
        p.columns = loaded.get().columnList();
        p.backupRows = loaded.get().rows();
        Jdbc.execute(c, "ANALYZE " + temp);
    }

    /**
     * Compares the loaded backup rows with the live ones. With a primary key, a key both sides hold
     * with other values is a changed row, or, in a table reset since the backup ({@link Provenance}),
     * a collision of two rows. Without one, the backup's rows are compared with the live rows that were
     * there at the backup, so a new row equal to a deleted one does not stand in for it.
     */
    static void compare(Connection c, TablePlan p, Provenance provenance) throws SQLException {
        p.liveRows = Jdbc.number(c, "SELECT count(*) FROM ONLY " + p.quoted);
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
                p.changed = p.reset.isPresent() ? 0 : rs.getLong(2);
                p.collisions = p.reset.isPresent() ? rs.getLong(2) : 0;
            }
            // Keys are unique on both sides: the live rows that matched none are the rest.
            p.onlyLive = p.liveRows - (p.backupRows - p.missing);
            p.missingSamples = Jdbc.strings(c, "SELECT " + keys + " FROM " + p.temp + " b WHERE NOT EXISTS (SELECT 1 FROM ONLY "
                    + p.quoted + " l WHERE " + join + ") LIMIT " + SAMPLES);
            List<String> samples = p.changed > 0 || p.collisions > 0 ? Jdbc.strings(c, "SELECT " + keys + " FROM " + p.temp
                    + " b JOIN ONLY " + p.quoted + " l ON " + join + " WHERE " + differs + " LIMIT " + SAMPLES) : List.of();
            p.changedSamples = p.changed > 0 ? samples : List.of();
            p.collisionSamples = p.collisions > 0 ? samples : List.of();
        } else {
            // No primary key: rows are compared whole, as multisets, with the live rows that were there.
            String cols = p.columns.stream().map(x -> x + "::text").collect(Collectors.joining(", "));
            p.missing = Jdbc.number(c, "SELECT count(*) FROM (SELECT " + cols + " FROM " + p.temp + " EXCEPT ALL SELECT " + cols
                    + " FROM ONLY " + p.quoted + " l WHERE " + wasThere(p, provenance) + ") x");
            p.onlyLive = Jdbc.number(c, "SELECT count(*) FROM (SELECT " + cols + " FROM ONLY " + p.quoted + " EXCEPT ALL SELECT "
                    + cols + " FROM " + p.temp + ") x");
        }
    }

    /** The live rows {@code l} that were there at the backup: none in a reset table. */
    private static String wasThere(TablePlan p, Provenance provenance) {
        return p.reset.isPresent() ? "false" : provenance.wasThere("l");
    }

    /** The keys (one column) that both sides hold with other values, as a query of one column. */
    static String collidingKeys(Connection c, TablePlan p) throws SQLException {
        String k = p.pk.get(0);
        List<String> others = nonKey(p);
        String differs = others.isEmpty() ? "false" : row(c, p, "l", others) + " IS DISTINCT FROM " + row(c, p, "b", others);
        return "SELECT l." + k + " FROM ONLY " + p.quoted + " l JOIN " + p.temp + " b ON l." + k + " = b." + k + " WHERE "
                + differs;
    }

    private static List<String> nonKey(TablePlan p) {
        return p.columns.stream().filter(col -> !p.pk.contains(col)).toList();
    }

    /**
     * The columns as values to compare: typed where the type has an equality (cheap), as text where
     * it has none (json, xml, geometric types), which IS DISTINCT FROM could not compare.
     */
    private static String row(Connection c, TablePlan p, String alias, List<String> cols) throws SQLException {
        if (p.textOnly == null) {
            p.textOnly = Jdbc.strings(c, """
                    SELECT quote_ident(a.attname) FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                      LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
                     WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped
                       AND coalesce(e.typname, t.typname) IN ('json', 'xml', 'point', 'line', 'lseg', 'box', 'path',
                                                              'polygon', 'circle')""", p.quoted);
        }
        return "ROW(" + cols.stream().map(x -> alias + "." + x + (p.textOnly.contains(x) ? "::text" : ""))
                .collect(Collectors.joining(", ")) + ")";
    }

    static long insertMissing(Connection c, TablePlan p, Provenance provenance) throws SQLException {
        String cols = String.join(", ", p.columns);
        String overriding = p.identityAlways.isEmpty() ? "" : " OVERRIDING SYSTEM VALUE";
        if (!p.pk.isEmpty()) {
            String join = p.pk.stream().map(k -> "l." + k + " = b." + k).collect(Collectors.joining(" AND "));
            // A key written by the application meanwhile (after this statement's snapshot) is skipped, not an error.
            return Jdbc.update(c, "INSERT INTO " + p.quoted + " (" + cols + ")" + overriding + " SELECT "
                    + p.columns.stream().map(x -> "b." + x).collect(Collectors.joining(", ")) + " FROM " + p.temp
                    + " b WHERE NOT EXISTS (SELECT 1 FROM ONLY " + p.quoted + " l WHERE " + join + ") ON CONFLICT ("
                    + String.join(", ", p.pk) + ") DO NOTHING");
        }
        // Whole rows: of each distinct row, insert as many copies as the backup has more than live.
        String text = p.columns.stream().map(x -> "b." + x + "::text").collect(Collectors.joining(", "));
        String same = p.columns.stream().map(x -> "l." + x + "::text IS NOT DISTINCT FROM b." + x + "::text")
                .collect(Collectors.joining(" AND "));
        return Jdbc.update(c, "INSERT INTO " + p.quoted + " (" + cols + ")" + overriding + " SELECT "
                + p.columns.stream().map(x -> "b." + x).collect(Collectors.joining(", ")) + " FROM (SELECT b.*,"
                + " row_number() OVER (PARTITION BY " + text + ") AS backstop_n FROM " + p.temp + " b) b"
                + " WHERE b.backstop_n > (SELECT count(*) FROM ONLY " + p.quoted + " l WHERE " + same + " AND "
                + wasThere(p, provenance) + ")");
    }

    static long resetChanged(Connection c, TablePlan p) throws SQLException {
        List<String> others = nonKey(p).stream().filter(x -> !p.identityAlways.contains(x)).toList();
        if (p.pk.isEmpty() || others.isEmpty()) {
            return 0;
        }
        String join = p.pk.stream().map(k -> "l." + k + " = b." + k).collect(Collectors.joining(" AND "));
        return Jdbc.update(c, "UPDATE ONLY " + p.quoted + " l SET (" + String.join(", ", others) + ") = ROW("
                + others.stream().map(x -> "b." + x).collect(Collectors.joining(", ")) + ") FROM " + p.temp + " b WHERE "
                + join + " AND " + row(c, p, "l", others) + " IS DISTINCT FROM " + row(c, p, "b", others));
    }

    /** Every sequence a column of {@code table} draws from moves past the largest value now in it. */
    static void moveSequences(Connection c, String table) throws SQLException {
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
}
