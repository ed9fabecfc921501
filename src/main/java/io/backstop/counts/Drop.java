package io.backstop.counts;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.Locale;

/**
 * One reason for a data-loss alarm: what dropped, from how many rows to how many. {@code table}
 * is always a table name (null for the database as a whole); {@code reason} says why the
 * database as a whole counts as lost (RECREATED), and is null otherwise.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record Drop(String table, Kind kind, long before, Long after, String reason) {
    public Drop {
        if (kind == Kind.RECREATED && reason == null && table != null) {
            reason = table; // state.json written before reason had its own field
            table = null;
        }
    }

    public Drop(String table, Kind kind, long before, Long after) {
        this(table, kind, before, after, null);
    }

    /** The database as a whole: recreated, replaced, or every counted table gone. */
    public static Drop recreated(String reason, long before, Long after) {
        return new Drop(null, Kind.RECREATED, before, after, reason);
    }

    public enum Kind {
        /** Lost more than its threshold of rows. */
        DROPPED,
        /** Had rows, has none. */
        EMPTIED,
        /** The table no longer exists. */
        GONE,
        /** The database is not the one the baseline came from, or every counted table is gone or empty. */
        RECREATED
    }

    /**
     * The undo for these drops: {@code backstop recover TABLES --from pinned --target T}, when
     * tables dropped (a recreated database as a whole is a restore, not a recover).
     */
    public static java.util.Optional<String> recoverCommand(String target, java.util.List<Drop> drops) {
        if (drops.stream().anyMatch(d -> d.kind() == Kind.RECREATED)) {
            return java.util.Optional.empty(); // the database as a whole: restore pinned, not table by table
        }
        java.util.List<String> tables = drops.stream().map(Drop::table).filter(java.util.Objects::nonNull).sorted()
                .distinct().toList();
        return tables.isEmpty() ? java.util.Optional.empty() : java.util.Optional.of("backstop recover "
                + String.join(" ", tables.stream().map(t -> t.contains("\"") ? "'" + t + "'" : t).toList())
                + " --from pinned --target " + target);
    }

    public String describe() {
        return switch (kind) {
            case DROPPED -> String.format(Locale.ROOT, "%s dropped from %,d to %,d rows (-%.1f%%)", table, before, after,
                    100.0 * (before - after) / before);
            case EMPTIED -> String.format(Locale.ROOT, "%s is empty (had %,d rows)", table, before);
            case GONE -> String.format(Locale.ROOT, "%s is gone (had %,d rows)", table, before);
            case RECREATED -> "the database was recreated: " + reason;
        };
    }
}
