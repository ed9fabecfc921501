package io.backstop.counts;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A target's {@code state.json}: the row-count baseline and the data-loss alarm. Written
 * atomically; survives restarts, so an alarm stays raised until acknowledged or recovered.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record TargetState(int formatVersion, String target, Baseline baseline, Alarm alarm, LastCheck lastCheck,
        List<String> held, List<Long> recoveredXids, Map<String, Long> updateCounters) {
    public static final int FORMAT_VERSION = 1;

    /**
     * {@code held}: backups an alarm pinned that stay pinned after the counts came back (by a recover, or by
     * rows written again), until {@code ack} releases them: the evidence outlives whatever cleared the alarm.
     * {@code updateCounters}: each table's updated-row counter at the last check or backup (mass updates).
     * {@code recoveredXids}: the transactions of recover's applies, whose rows are the backup's rows put back
     * (not rows the application wrote since), so a second comparison knows them.
     */
    public TargetState {
        held = held == null ? List.of() : List.copyOf(held);
        recoveredXids = recoveredXids == null ? List.of() : List.copyOf(recoveredXids);
        updateCounters = updateCounters == null ? Map.of() : java.util.Collections.unmodifiableMap(
                new TreeMap<>(updateCounters));
    }

    public TargetState(int formatVersion, String target, Baseline baseline, Alarm alarm, LastCheck lastCheck) {
        this(formatVersion, target, baseline, alarm, lastCheck, List.of(), List.of(), Map.of());
    }

    public static TargetState empty(String target) {
        return new TargetState(FORMAT_VERSION, target, null, null, null);
    }

    /**
     * Counts to compare against: those of the last verified backup taken while no alarm was
     * raised ({@code sequence} and {@code file} say which), or the live counts at an ack; the
     * large objects and references it watched, and each table's {@code oid:relfilenode}.
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Baseline(Instant takenAt, long sequence, String file, String systemIdentifier, long databaseOid,
            Map<String, Long> rowCounts, Map<String, Long> watched, Map<String, String> tableFiles) {
        public Baseline {
            rowCounts = rowCounts == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(rowCounts));
            watched = watched == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(watched));
            tableFiles = tableFiles == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(tableFiles));
        }

        public Baseline(Instant takenAt, long sequence, String file, String systemIdentifier, long databaseOid,
                Map<String, Long> rowCounts) {
            this(takenAt, sequence, file, systemIdentifier, databaseOid, rowCounts, Map.of(), Map.of());
        }
    }

    /** A raised alarm: why, since when, and which backups hold the data (pinned until it clears). */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Alarm(Instant raisedAt, List<Drop> drops, List<String> pinned) {
        public Alarm {
            drops = List.copyOf(drops);
            pinned = List.copyOf(pinned);
        }
    }

    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record LastCheck(Instant at, Map<String, Long> rowCounts, String method) {
        public LastCheck {
            rowCounts = rowCounts == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(rowCounts));
        }
    }

    public TargetState withBaseline(Baseline b) {
        return new TargetState(formatVersion, target, b, alarm, lastCheck, held, recoveredXids, updateCounters);
    }

    public TargetState withAlarm(Alarm a) {
        return new TargetState(formatVersion, target, baseline, a, lastCheck, held, recoveredXids, updateCounters);
    }

    public TargetState withLastCheck(LastCheck c) {
        return new TargetState(formatVersion, target, baseline, alarm, c, held, recoveredXids, updateCounters);
    }

    public TargetState withHeld(List<String> h) {
        return new TargetState(formatVersion, target, baseline, alarm, lastCheck, h, recoveredXids, updateCounters);
    }

    public TargetState withRecoveredXid(long xid) {
        List<Long> xids = new java.util.ArrayList<>(recoveredXids);
        xids.add(xid);
        // Enough for every apply of an incident; the oldest go first.
        return new TargetState(formatVersion, target, baseline, alarm, lastCheck, held,
                xids.subList(Math.max(0, xids.size() - 1000), xids.size()), updateCounters);
    }

    /** The statistics collector's updated-row counters at the last observation, to find the next mass update. */
    public TargetState withUpdateCounters(Map<String, Long> counters) {
        return new TargetState(formatVersion, target, baseline, alarm, lastCheck, held, recoveredXids, counters);
    }

    /** Every backup this state keeps pinned: the raised alarm's and those held since an alarm cleared. */
    public List<String> allPinned() {
        java.util.LinkedHashSet<String> all = new java.util.LinkedHashSet<>(held);
        if (alarm != null) {
            all.addAll(alarm.pinned());
        }
        return List.copyOf(all);
    }

    public boolean alarmRaised() {
        return alarm != null;
    }
}
