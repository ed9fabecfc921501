package io.backstop.pg;

import io.backstop.config.Settings.RowCounts;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What the data-loss alarm watches besides each table's rows, where a loss leaves the row counts
 * as they were:
 * <ul>
 * <li>{@value #LARGE_OBJECTS}: how many large objects the database holds ({@code lo_unlink} of all
 * of them changes no table);</li>
 * <li>{@code schema.table(column, …)}: for each foreign key whose {@code ON DELETE} is {@code SET
 * NULL} or {@code SET DEFAULT}, how many rows hold a value in all its columns ({@code DELETE} on the
 * parent nulls them in a table nobody named).</li>
 * </ul>
 * Counted in a dump's snapshot with {@code count(*)}; live, a column of a table larger than
 * {@code row-counts.estimate-above} is first estimated from the planner's statistics and counted
 * only when the estimate looks like a drop, as {@code LiveCounts} does for rows.
 */
public final class Watched {
    public static final String LARGE_OBJECTS = "large objects";

    private static final String NULLABLE_REFERENCES = """
            SELECT format('%I.%I', n.nspname, c.relname), format('%I.%I', pn.nspname, pc.relname),
                   (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY array_position(k.conkey, a.attnum))
                      FROM pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)),
                   (SELECT string_agg(format('%s IS NOT NULL', quote_ident(a.attname)), ' AND ')
                      FROM pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)),
                   c.relkind = 'p',
                   coalesce((SELECT sum(s.n_live_tup) FROM pg_stat_user_tables s
                              WHERE s.relid IN (SELECT relid FROM pg_partition_tree(c.oid))), c.reltuples)::bigint,
                   (SELECT max(st.null_frac) FROM pg_stats st
                     WHERE st.schemaname = n.nspname AND st.tablename = c.relname
                       AND st.attname IN (SELECT a.attname FROM pg_attribute a
                                           WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)))
              FROM pg_constraint k
              JOIN pg_class c ON c.oid = k.conrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_class pc ON pc.oid = k.confrelid
              JOIN pg_namespace pn ON pn.oid = pc.relnamespace
             WHERE k.contype = 'f' AND k.confdeltype IN ('n', 'd') AND k.conparentid = 0
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
             ORDER BY 1, 2
            """;

    private final RowCounts settings;

    public Watched(RowCounts settings) {
        this.settings = settings;
    }

    /**
     * The key of a referencing column (or columns) of a table, as stored in manifests and baselines:
     * {@code public.rental(customer_id) references public.customer}.
     */
    public static String columnKey(String table, String columns, String parent) {
        return table + "(" + columns + ")" + REFERENCES + parent;
    }

    private static final String REFERENCES = " references ";

    /** The table part of a column key (its first parenthesis outside quotes), or empty for {@value #LARGE_OBJECTS}. */
    public static Optional<String> tableOf(String key) {
        boolean quoted = false;
        for (int i = 0; i < key.length(); i++) {
            char ch = key.charAt(i);
            if (ch == '"') {
                quoted = !quoted;
            } else if (ch == '(' && !quoted) {
                return Optional.of(key.substring(0, i));
            }
        }
        return Optional.empty();
    }

    /** The table a column key's foreign key references. */
    public static Optional<String> referencedOf(String key) {
        int at = key.lastIndexOf(REFERENCES);
        return at < 0 ? Optional.empty() : Optional.of(key.substring(at + REFERENCES.length()));
    }

    /** Exact counts, in the connection's current transaction. */
    public Map<String, Long> count(Connection c) throws SQLException {
        return count(c, Map.of());
    }

    /**
     * Counts, estimating a column where its table has more than {@code estimate-above} rows and the
     * estimate is within the threshold of {@code baseline}'s count; exact everywhere else.
     */
    public Map<String, Long> count(Connection c, Map<String, Long> baseline) throws SQLException {
        Map<String, Long> out = new LinkedHashMap<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT count(*) FROM pg_catalog.pg_largeobject_metadata")) {
            rs.next();
            out.put(LARGE_OBJECTS, rs.getLong(1));
        }
        record Column(String key, String table, String from, String notNull, long rows, Double nullFraction) {
        }
        List<Column> columns = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(NULLABLE_REFERENCES)) {
            while (rs.next()) {
                String table = rs.getString(1);
                if (RowCounter.isExcluded(settings, table)) {
                    continue;
                }
                double nullFraction = rs.getDouble(7);
                columns.add(new Column(columnKey(table, rs.getString(3), rs.getString(2)), table,
                        (rs.getBoolean(5) ? "" : "ONLY ") + table, rs.getString(4), rs.getLong(6),
                        rs.wasNull() ? null : nullFraction));
            }
        }
        // One scan per table, however many of its columns are watched.
        Map<String, List<Column>> exact = new LinkedHashMap<>();
        for (Column col : columns) {
            Long before = baseline.get(col.key());
            if (before != null && col.rows() > settings.estimateAbove() && col.nullFraction() != null) {
                long estimate = Math.round(col.rows() * (1 - col.nullFraction()));
                if ((before - estimate) <= settings.thresholdFor(col.table()) * before) {
                    out.put(col.key(), estimate);
                    continue;
                }
            }
            exact.computeIfAbsent(col.from(), f -> new ArrayList<>()).add(col);
        }
        try (Statement st = c.createStatement()) {
            for (Map.Entry<String, List<Column>> table : exact.entrySet()) {
                // The names and the conditions were written by the server (format %I, quote_ident).
                String counts = String.join(", ", table.getValue().stream()
                        .map(col -> "count(*) FILTER (WHERE " + col.notNull() + ")").toList());
                try (ResultSet rs = st.executeQuery("SELECT " + counts + " FROM " + table.getKey())) {
                    rs.next();
                    for (int i = 0; i < table.getValue().size(); i++) {
                        out.put(table.getValue().get(i).key(), rs.getLong(i + 1));
                    }
                }
            }
        }
        return out;
    }

    /**
     * Each table's cumulative updated-row counter ({@code n_tup_upd}, its partitions' summed for a
     * partitioned table), from the statistics collector: free to read.
     */
    public static Map<String, Long> updateCounters(Connection c, java.util.Collection<String> tables)
            throws SQLException {
        Map<String, Long> out = new LinkedHashMap<>();
        // One query for every table: a check of a thousand tables must not cost a thousand round trips.
        // The statistics view is read once, joined by relation: a table's own, or its partitions'.
        try (PreparedStatement ps = c.prepareStatement("""
                WITH named AS (SELECT t.name, to_regclass(t.name) AS rel FROM unnest(?::text[]) AS t(name))
                SELECT n.name, sum(s.n_tup_upd)::bigint
                  FROM named n
                  LEFT JOIN LATERAL (SELECT relid FROM pg_partition_tree(n.rel)) p ON true
                  JOIN pg_stat_user_tables s ON s.relid = coalesce(p.relid, n.rel)
                 GROUP BY n.name""")) {
            ps.setArray(1, c.createArrayOf("text", tables.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    long n = rs.getLong(2);
                    if (!rs.wasNull()) {
                        out.put(rs.getString(1), n);
                    }
                }
            }
        }
        return out;
    }
}
