package io.backstop.counts;

import io.backstop.config.Settings.RowCounts;
import io.backstop.pg.RowCounter;
import io.backstop.pg.Watched;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Compares counts with the baseline. Pure. A table absent from {@code live} is gone. Growth,
 * and drops within the table's threshold, raise nothing; tables that were empty in the
 * baseline cannot drop.
 */
public final class DropDetector {
    private DropDetector() {
    }

    /** What was observed: the database's identity and each counted table's rows (absent: gone). */
    public record Observation(String systemIdentifier, long databaseOid, Map<String, Long> rowCounts,
            Map<String, Long> watched, Map<String, Long> updateCounters, Map<String, String> tableFiles) {
        public Observation {
            watched = watched == null ? Map.of() : Map.copyOf(watched);
            updateCounters = updateCounters == null ? Map.of() : Map.copyOf(updateCounters);
            tableFiles = tableFiles == null ? Map.of() : Map.copyOf(tableFiles);
        }

        public Observation(String systemIdentifier, long databaseOid, Map<String, Long> rowCounts) {
            this(systemIdentifier, databaseOid, rowCounts, Map.of(), Map.of(), Map.of());
        }
    }

    /** A table of fewer rows than this is never a mass update: one row of settings is updated whole. */
    static final long MASS_UPDATE_MIN_ROWS = 10;

    public static List<Drop> compare(TargetState.Baseline baseline, Observation live, RowCounts settings) {
        List<Drop> drops = new ArrayList<>();
        if (baseline == null) {
            return drops;
        }
        boolean otherCluster = baseline.systemIdentifier() != null && live.systemIdentifier() != null
                && !Objects.equals(baseline.systemIdentifier(), live.systemIdentifier());
        boolean otherDatabase = baseline.databaseOid() != 0 && live.databaseOid() != 0
                && baseline.databaseOid() != live.databaseOid();
        if (otherCluster) {
            drops.add(Drop.recreated("cluster system identifier changed from " + baseline.systemIdentifier() + " to "
                    + live.systemIdentifier() + " (volume recreated?)", baseline.rowCounts().values()
                    .stream().mapToLong(Long::longValue).sum(), null));
        } else if (otherDatabase) {
            drops.add(Drop.recreated("database OID changed from " + baseline.databaseOid() + " to " + live.databaseOid()
                    + " (dropped and created again?)", baseline.rowCounts().values().stream()
                    .mapToLong(Long::longValue).sum(), null));
        }
        long hadRows = baseline.rowCounts().values().stream().filter(n -> n > 0).count();
        long lostAll = 0;
        for (Map.Entry<String, Long> e : baseline.rowCounts().entrySet()) {
            String table = e.getKey();
            if (RowCounter.isExcluded(settings, table)) {
                continue; // excluded since the baseline was taken
            }
            long before = e.getValue();
            Long after = live.rowCounts().get(table);
            if (after == null) {
                drops.add(new Drop(table, Drop.Kind.GONE, before, null));
                if (before > 0) {
                    lostAll++;
                }
            } else if (before > 0 && after == 0) {
                drops.add(new Drop(table, Drop.Kind.EMPTIED, before, 0L, reset(baseline, live, table)));
                lostAll++;
            } else if (before > 0 && after < before
                    && (before - after) > settings.thresholdFor(table) * before) {
                drops.add(new Drop(table, Drop.Kind.DROPPED, before, after, reset(baseline, live, table)));
            }
        }
        if (!otherCluster && !otherDatabase) {
            // A column of a table that is itself gone or emptied is that table's drop, not one more.
            watched(baseline.watched(), live.watched(), settings).stream()
                    .filter(w -> drops.stream().noneMatch(d -> d.table() != null && d.table().equals(w.table())))
                    .forEach(drops::add);
        }
        if (!otherCluster && !otherDatabase && hadRows > 0 && lostAll == hadRows && hadRows > 1) {
            drops.add(0, Drop.recreated("every counted table is gone or empty",
                    baseline.rowCounts().values().stream().mapToLong(Long::longValue).sum(), 0L));
        }
        return drops;
    }

    /**
     * {@value Drop#RESET} when the table is not the baseline's table any more (another OID: dropped and
     * created again; another file node: truncated), else null: its rows written since reuse old keys.
     */
    private static String reset(TargetState.Baseline baseline, Observation live, String table) {
        String was = baseline.tableFiles().get(table);
        String now = live.tableFiles().get(table);
        return was != null && now != null && !was.equals(now) ? Drop.RESET : null;
    }

    /** Large objects and nullable references that lost more than the threshold of what the baseline had. */
    static List<Drop> watched(Map<String, Long> baseline, Map<String, Long> live, RowCounts settings) {
        List<Drop> drops = new ArrayList<>();
        for (Map.Entry<String, Long> e : baseline.entrySet()) {
            long before = e.getValue();
            Long after = live.get(e.getKey());
            if (after == null || before <= 0 || after >= before) {
                continue; // a column gone with its table (or its key) is reported as the table
            }
            java.util.Optional<String> table = Watched.tableOf(e.getKey());
            if (table.isPresent() && RowCounter.isExcluded(settings, table.get())) {
                continue;
            }
            double threshold = settings.thresholdFor(table.orElse(e.getKey()));
            if (after == 0 || (before - after) > threshold * before) {
                drops.add(table.isEmpty() ? new Drop(null, Drop.Kind.LARGE_OBJECTS, before, after)
                        : new Drop(table.get(), Drop.Kind.NULLED, before, after,
                                e.getKey().substring(table.get().length())));
            }
        }
        return drops;
    }

    /**
     * Tables of which at least {@code update-threshold} of their rows were updated between two
     * observations: the counters' growth against the rows counted now. A counter that went down was
     * reset (a crash, pg_stat_reset) and says nothing.
     */
    public static List<Drop> massUpdates(Map<String, Long> before, Map<String, Long> after, Map<String, Long> rows,
            RowCounts settings) {
        List<Drop> drops = new ArrayList<>();
        if (settings.updateThreshold() <= 0) {
            return drops;
        }
        for (Map.Entry<String, Long> e : after.entrySet()) {
            Long was = before.get(e.getKey());
            Long n = rows.get(e.getKey());
            if (was == null || n == null || n < MASS_UPDATE_MIN_ROWS || RowCounter.isExcluded(settings, e.getKey())) {
                continue;
            }
            long updated = e.getValue() - was;
            if (updated > 0 && updated >= settings.updateThreshold() * n) {
                drops.add(new Drop(e.getKey(), Drop.Kind.UPDATED, n, updated));
            }
        }
        return drops;
    }
}
