package io.backstop.pg;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.config.Settings.RowCounts;
import io.backstop.pg.CountedTable;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Decides which tables are critical and counts their rows with {@code count(*)}. Called on a
 * connection whose transaction holds the dump's snapshot, the counts are exactly the rows the
 * dump holds. Catalog reads are plain SELECTs, so they see the same snapshot as pg_dump.
 */
public final class RowCounter {
    /**
     * What one table's row count means (the contract's invariant 4), as the FROM clause that counts it, for a
     * relation {@code c} in namespace {@code n}: the rows pg_dump writes for it. A partitioned table counts its
     * partitions; any other table its own rows only ({@code ONLY}); an extension's configuration table only
     * the rows its dump filter keeps. Every count Backstop takes, in a dump's snapshot or live, uses this.
     */
    public static final String COUNTED_FROM = """
            (CASE WHEN c.relkind = 'p' THEN format('%I.%I', n.nspname, c.relname)
                  ELSE 'ONLY ' || format('%I.%I', n.nspname, c.relname) END
               || coalesce(' ' || nullif((SELECT e.extcondition[array_position(e.extconfig, c.oid)]
                                            FROM pg_extension e WHERE c.oid = ANY (e.extconfig) LIMIT 1), ''), ''))
            """.strip();

    /**
     * Every user table pg_dump writes data for: ordinary tables and leaf partitions, unlogged
     * ones too, and extension configuration tables (pg_extension.extconfig) with their filter;
     * not other extension members. Columns: oid, quoted name, unquoted name, FROM clause.
     */
    private static final String ALL_USER_TABLES = """
            SELECT c.oid, format('%I.%I', n.nspname, c.relname), n.nspname || '.' || c.relname,
            """ + COUNTED_FROM + """
              FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN LATERAL (SELECT e.extcondition[array_position(e.extconfig, c.oid)] AS cond
                                   FROM pg_extension e WHERE c.oid = ANY (e.extconfig) LIMIT 1) x ON true
             WHERE c.relkind = 'r'
               AND c.relpersistence <> 't'
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg\\_toast%'
               AND n.nspname NOT LIKE 'pg\\_temp%'
               AND (x.cond IS NOT NULL
                    OR NOT EXISTS (SELECT 1 FROM pg_depend d
                                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'))
             ORDER BY 2
            """;
    /** One name, parsed by the server with its own quoting rules and search_path; the same FROM as above. */
    private static final String RESOLVE_TABLE = """
            SELECT c.oid, format('%I.%I', n.nspname, c.relname), c.relkind::text,
                   CASE WHEN c.relkind = 'p'
                        THEN ARRAY(SELECT t.relid::oid::bigint FROM pg_partition_tree(c.oid) t WHERE t.isleaf)
                        ELSE ARRAY[c.oid::bigint] END,
            """ + COUNTED_FROM + """
              FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = to_regclass(?)
            """;

    private static final String NO_PARALLEL_WORKERS = "SET LOCAL max_parallel_workers_per_gather = 0";
    /** As pg_dump does: a count that row-level security would cut short fails instead of lying. */
    private static final String NO_ROW_SECURITY = "SET LOCAL row_security = off";

    /** Resolves the critical tables: the configured list, or every user table; minus exclusions. */
    public List<CountedTable> resolve(Connection c, RowCounts settings) throws SQLException {
        List<Pattern> excluded = settings.exclude().stream().map(RowCounter::glob).toList();
        List<CountedTable> tables = new ArrayList<>();
        if (settings.tables().isEmpty()) {
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(ALL_USER_TABLES)) {
                while (rs.next()) {
                    if (!isExcluded(excluded, rs.getString(3))) {
                        tables.add(new CountedTable(rs.getLong(1), rs.getString(2), List.of(rs.getLong(1)),
                                rs.getString(4)));
                    }
                }
            }
            return tables;
        }
        List<String> missing = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(RESOLVE_TABLE)) {
            for (String configured : settings.tables()) {
                ps.setString(1, configured);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        missing.add(configured);
                        continue;
                    }
                    String kind = rs.getString(3);
                    if (!kind.equals("r") && !kind.equals("p")) {
                        throw new BackstopException(ExitCode.USAGE, "backstop.row-counts.tables: \"" + configured
                                + "\" is not a table (relkind " + kind + "); allowed: tables and partitioned tables");
                    }
                    String name = rs.getString(2);
                    if (isExcluded(excluded, unquoted(name))) {
                        continue;
                    }
                    List<Long> leaves = new ArrayList<>();
                    Array array = rs.getArray(4);
                    for (Object o : (Object[]) array.getArray()) {
                        leaves.add(((Number) o).longValue());
                    }
                    tables.add(new CountedTable(rs.getLong(1), name, leaves, rs.getString(5)));
                } catch (SQLException e) {
                    if ("42602".equals(e.getSQLState()) || "3F000".equals(e.getSQLState())) {
                        // invalid name syntax or missing schema: name the configured entry
                        throw new BackstopException(ExitCode.USAGE, "backstop.row-counts.tables: cannot resolve \""
                                + configured + "\" (" + e.getMessage()
                                + "); allowed: schema.table, quoted where needed, e.g. public.\"Users\"", e);
                    }
                    throw e;
                }
            }
        }
        if (!missing.isEmpty()) {
            throw new BackstopException(ExitCode.USAGE, "backstop.row-counts.tables: "
                    + (missing.size() == 1 ? "table " : "tables ") + String.join(", ", missing.stream().map(m -> "\"" + m + "\"").toList())
                    + " not found in the database (names are resolved like SQL: schema.table, quote mixed case, e.g. public.\"Users\")");
        }
        return tables;
    }

    /**
     * The table a stored name (server-quoted, as in manifests and baselines) stands for in the
     * database {@code c} is connected to, counted the way {@link #resolve} counts it; empty when gone.
     */
    public java.util.Optional<CountedTable> lookup(Connection c, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(RESOLVE_TABLE)) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return java.util.Optional.empty();
                }
                List<Long> leaves = new ArrayList<>();
                for (Object o : (Object[]) rs.getArray(4).getArray()) {
                    leaves.add(((Number) o).longValue());
                }
                return java.util.Optional.of(new CountedTable(rs.getLong(1), rs.getString(2), leaves, rs.getString(5)));
            }
        } catch (SQLException e) {
            if ("42602".equals(e.getSQLState()) || "3F000".equals(e.getSQLState())) {
                return java.util.Optional.empty();
            }
            throw e;
        }
    }

    /** count(*) of each table, in the connection's current transaction (and so its snapshot). */
    public Map<String, Long> count(Connection c, List<CountedTable> tables, Duration timeout) throws SQLException {
        Map<String, Long> counts = new LinkedHashMap<>();
        try (Statement st = c.createStatement()) {
            if (!c.getAutoCommit()) {
                // One backend per count: parallel workers would take the cores pg_dump compresses on.
                st.execute(NO_PARALLEL_WORKERS);
                st.execute(NO_ROW_SECURITY);
            }
            st.setQueryTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toSeconds())));
            for (CountedTable table : tables) {
                // table.from() was built by the server (format %I.%I, and the extension's own filter), never raw config.
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM " + table.from())) {
                    rs.next();
                    counts.put(table.name(), rs.getLong(1));
                }
            }
        }
        return counts;
    }

    /** Whether {@code name} (server-quoted, as in manifests and baselines) matches an exclusion pattern. */
    public static boolean isExcluded(RowCounts settings, String name) {
        return isExcluded(settings.exclude().stream().map(RowCounter::glob).toList(), unquoted(name));
    }

    static boolean isExcluded(List<Pattern> excluded, String schemaDotTable) {
        return excluded.stream().anyMatch(p -> p.matcher(schemaDotTable).matches());
    }

    /**
     * "public.tmp_*" → regex; `*` and `?` are the only wildcards. Quotes are read as in SQL and in
     * {@code tables}: {@code public."Sessions"} matches the table Sessions.
     */
    static Pattern glob(String pattern) {
        StringBuilder regex = new StringBuilder();
        for (char ch : unquoted(pattern).toCharArray()) {
            switch (ch) {
                case '*' -> regex.append(".*");
                case '?' -> regex.append('.');
                default -> regex.append(Pattern.quote(String.valueOf(ch)));
            }
        }
        return Pattern.compile(regex.toString());
    }

    /** public."My Table" → public.My Table, for matching exclusion patterns written by people. */
    static String unquoted(String quoted) {
        StringBuilder out = new StringBuilder();
        boolean inQuotes = false;
        for (int i = 0; i < quoted.length(); i++) {
            char ch = quoted.charAt(i);
            if (ch == '"') {
                if (inQuotes && i + 1 < quoted.length() && quoted.charAt(i + 1) == '"') {
                    out.append('"');
                    i++;
                } else {
                    inQuotes = !inQuotes;
                }
            } else {
                out.append(ch);
            }
        }
        return out.toString();
    }
}
