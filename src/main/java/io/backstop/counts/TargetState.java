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
public record TargetState(int formatVersion, String target, Baseline baseline, Alarm alarm, LastCheck lastCheck) {
    public static final int FORMAT_VERSION = 1;

    public static TargetState empty(String target) {
        return new TargetState(FORMAT_VERSION, target, null, null, null);
    }

    /**
     * Counts to compare against: those of the last verified backup taken while no alarm was
     * raised ({@code sequence} and {@code file} say which), or the live counts at an ack.
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Baseline(Instant takenAt, long sequence, String file, String systemIdentifier, long databaseOid,
            Map<String, Long> rowCounts) {
        public Baseline {
            rowCounts = rowCounts == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(rowCounts));
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
        return new TargetState(formatVersion, target, b, alarm, lastCheck);
    }

    public TargetState withAlarm(Alarm a) {
        return new TargetState(formatVersion, target, baseline, a, lastCheck);
    }

    public TargetState withLastCheck(LastCheck c) {
        return new TargetState(formatVersion, target, baseline, alarm, c);
    }

    public boolean alarmRaised() {
        return alarm != null;
    }
}
