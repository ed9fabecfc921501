package io.backstop.counts;

import io.backstop.config.Settings.RowCounts;
import io.backstop.pg.RowCounter;
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
    public record Observation(String systemIdentifier, long databaseOid, Map<String, Long> rowCounts) {
    }

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
                drops.add(new Drop(table, Drop.Kind.EMPTIED, before, 0L));
                lostAll++;
            } else if (before > 0 && after < before
                    && (before - after) > settings.thresholdFor(table) * before) {
                drops.add(new Drop(table, Drop.Kind.DROPPED, before, after));
            }
        }
        if (!otherCluster && !otherDatabase && hadRows > 0 && lostAll == hadRows && hadRows > 1) {
            drops.add(0, Drop.recreated("every counted table is gone or empty",
                    baseline.rowCounts().values().stream().mapToLong(Long::longValue).sum(), 0L));
        }
        return drops;
    }
}
