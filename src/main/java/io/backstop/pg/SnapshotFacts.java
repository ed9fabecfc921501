package io.backstop.pg;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a dump's snapshot says beyond row counts, read in the same transaction as the counts:
 * <ul>
 * <li>{@code snapshot}: the snapshot itself ({@code pg_current_snapshot()}, xmin:xmax:xip), so that
 * a later comparison can tell a live row written since the dump (its {@code xmin} not visible to
 * this snapshot) from one that was there;</li>
 * <li>{@code tableFiles}: each counted table's OID and file node ({@code oid:relfilenode}); a table
 * dropped and created again gets a new OID, a truncated one a new file node;</li>
 * <li>{@code watched}: the counts the alarm watches besides rows ({@link Watched});</li>
 * <li>{@code updates}: each table's cumulative updated-row counter from the statistics collector
 * ({@code n_tup_upd}), to find mass updates between two observations.</li>
 * <li>{@code walLsn}: the server's WAL insert position read right after the snapshot was taken (none
 * on a standby); a replay of the WAL archive to there shows what the snapshot saw.</li>
 * </ul>
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record SnapshotFacts(String snapshot, Map<String, String> tableFiles, Map<String, Long> watched,
        Map<String, Long> updates, String walLsn) {
    public SnapshotFacts {
        tableFiles = tableFiles == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(tableFiles));
        watched = watched == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(watched));
        updates = updates == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(updates));
    }

    /** Reads the facts in the connection's current transaction (and so its snapshot). */
    public static SnapshotFacts read(Connection c, List<CountedTable> tables, Watched watched) throws SQLException {
        String snapshot;
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_current_snapshot()::text")) {
            rs.next();
            snapshot = rs.getString(1);
        }
        // By OID, read from pg_class in this transaction's snapshot. A partitioned table has no file: its
        // partitions are tables of their own.
        Map<Long, String> names = new java.util.HashMap<>();
        tables.stream().filter(t -> t.dataOids().equals(List.of(t.oid()))).forEach(t -> names.put(t.oid(), t.name()));
        Map<String, String> files = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT c.oid::bigint, c.relfilenode::bigint FROM pg_class c"
                + " WHERE c.oid = ANY (?::oid[])")) {
            ps.setArray(1, c.createArrayOf("bigint", names.keySet().toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    files.put(names.get(rs.getLong(1)), rs.getLong(1) + ":" + rs.getLong(2));
                }
            }
        }
        return new SnapshotFacts(snapshot, files, watched == null ? Map.of() : watched.count(c),
                Watched.updateCounters(c, tables.stream().map(CountedTable::name).toList()), null);
    }

    /** The same facts with the WAL position of their snapshot. */
    public SnapshotFacts atWalLsn(String lsn) {
        return new SnapshotFacts(snapshot, tableFiles, watched, updates, lsn);
    }

    /** Each named table's {@code oid:relfilenode} now (a partitioned table, which has no file, is left out). */
    public static Map<String, String> tableFiles(Connection c, java.util.Collection<String> tables) throws SQLException {
        Map<String, String> files = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT t.name, c.oid::bigint || ':' || c.relfilenode::bigint"
                + " FROM unnest(?::text[]) AS t(name) JOIN pg_class c ON c.oid = to_regclass(t.name) AND c.relkind = 'r'")) {
            ps.setArray(1, c.createArrayOf("text", tables.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    files.put(rs.getString(1), rs.getString(2));
                }
            }
        }
        return files;
    }

    /** The OID part of a {@code tableFiles} value. */
    public static long oidOf(String tableFile) {
        return Long.parseLong(tableFile.substring(0, tableFile.indexOf(':')));
    }
}
