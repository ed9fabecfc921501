package io.backstop.counts;

import io.backstop.config.Settings.RowCounts;
import io.backstop.pg.CountedTable;
import io.backstop.pg.RowCounter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Live row counts between backups. Exact {@code count(*)} is the truth; a table whose
 * baseline holds more than {@code estimate-above} rows is first read from the statistics
 * collector ({@code pg_stat_user_tables.n_live_tup}, free to read) and counted exactly only
 * when the estimate looks like a drop, so a 50-million-row table costs nothing while intact
 * yet a DELETE, TRUNCATE or DROP is confirmed by an exact count before any alarm.
 */
public final class LiveCounts {
    /** schema.table (server-quoted) → oid and estimate, for names as stored in a baseline. */
    private static final String LOOKUP = """
            SELECT c.oid, format('%I.%I', n.nspname, c.relname), coalesce(s.n_live_tup, c.reltuples::bigint),
            """ + RowCounter.COUNTED_FROM + """
              FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
             WHERE c.oid = to_regclass(?)
            """;

    private final RowCounter counter;

    public LiveCounts(RowCounter counter) {
        this.counter = counter;
    }

    /** How each count was obtained, for the check's report. */
    public record Result(Map<String, Long> counts, int exact, int estimated) {
    }

    /**
     * Counts the baseline's tables (absent from the result when gone) and every table the
     * settings select today (so new tables join the next baseline).
     */
    public Result count(Connection c, Map<String, Long> baseline, RowCounts settings, Duration timeout) throws SQLException {
        Map<String, Long> counts = new LinkedHashMap<>();
        List<CountedTable> exact = new ArrayList<>();
        int estimated = 0;
        try (PreparedStatement ps = c.prepareStatement(LOOKUP)) {
            for (Map.Entry<String, Long> b : baseline.entrySet()) {
                if (RowCounter.isExcluded(settings, b.getKey())) {
                    continue;
                }
                Optional<Found> found = lookup(ps, b.getKey());
                if (found.isEmpty()) {
                    continue; // gone
                }
                long oid = found.get().oid();
                long estimate = found.get().estimate();
                long before = b.getValue();
                boolean large = before > settings.estimateAbove();
                boolean looksIntact = estimate > 0 && (before - estimate) <= settings.thresholdFor(b.getKey()) * before;
                if (large && looksIntact) {
                    counts.put(b.getKey(), estimate);
                    estimated++;
                } else {
                    exact.add(new CountedTable(oid, b.getKey(), List.of(oid), found.get().from()));
                }
            }
        } catch (SQLException e) {
            if (!"42602".equals(e.getSQLState()) && !"3F000".equals(e.getSQLState())) {
                throw e;
            }
        }
        Collection<CountedTable> current;
        try {
            current = counter.resolve(c, settings);
        } catch (io.backstop.BackstopException e) {
            current = List.of(); // a configured table is missing: the baseline comparison reports it
        }
        for (CountedTable t : current) {
            if (!counts.containsKey(t.name()) && exact.stream().noneMatch(x -> x.name().equals(t.name()))) {
                exact.add(t);
            }
        }
        counts.putAll(counter.count(c, exact, timeout));
        return new Result(counts, exact.size(), estimated);
    }

    private record Found(long oid, long estimate, String from) {
    }

    private static Optional<Found> lookup(PreparedStatement ps, String name) throws SQLException {
        ps.setString(1, name);
        try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
                return Optional.empty();
            }
            return Optional.of(new Found(rs.getLong(1), rs.getLong(3), rs.getString(4)));
        }
    }
}
