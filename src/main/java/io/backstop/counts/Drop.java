package io.backstop.counts;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.util.Locale;

/**
 * One reason for a data-loss alarm: what dropped, from how many rows to how many. {@code table}
 * is always a table name (null for the database as a whole and for large objects); {@code reason}
 * says why the database as a whole counts as lost (RECREATED), names the columns that lost their
 * references and the table they reference (NULLED: {@code (customer_id) references public.customer}),
 * and is null otherwise.
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
    /** The reason of a table's drop when the table was dropped and created again, or truncated, since the baseline. */
    public static final String RESET = "reset: dropped and created again, or truncated";

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
        RECREATED,
        /** The database lost large objects ({@code before}, {@code after}: how many it holds). */
        LARGE_OBJECTS,
        /**
         * A foreign key with {@code ON DELETE SET NULL} or {@code SET DEFAULT} lost values ({@code reason}:
         * its columns; {@code before}, {@code after}: rows holding a value): rows of its parent were deleted.
         */
        NULLED,
        /**
         * At least {@code update-threshold} of the table's rows were updated between two observations
         * ({@code before}: its rows, {@code after}: how many updates): an UPDATE without WHERE. It does not
         * clear by itself: {@code recover --changed} of the table, or {@code ack}.
         */
        UPDATED
    }

    /**
     * The undo for these drops: {@code backstop recover TABLES --from pinned --target T}, when tables
     * (or large objects) dropped; with {@code --rekey-new} when the database was recreated.
     */
    public static java.util.Optional<String> recoverCommand(String target, java.util.List<Drop> drops) {
        return recoverCommand(target, drops, false);
    }

    /**
     * The undo for these drops; with {@code pitr} (the target's WAL archived) from the moment just before the
     * incident's commit ({@code --before-incident}: the rows written since the last dump come back too),
     * else from the pinned backup.
     */
    public static java.util.Optional<String> recoverCommand(String target, java.util.List<Drop> drops, boolean pitr) {
        // The database recreated (a schema reset, a volume or database created again) with the application
        // writing again: its new rows reuse the old ids, so the undo that keeps both moves the new ones.
        boolean recreated = drops.stream().anyMatch(d -> d.kind() == Kind.RECREATED || RESET.equals(d.reason()));
        java.util.List<String> tables = java.util.stream.Stream.concat(drops.stream().map(Drop::table),
                // the parent of a nulled reference comes back with it, or the references point at nothing
                drops.stream().filter(d -> d.kind() == Kind.NULLED && d.reason() != null)
                        .map(d -> io.backstop.pg.Watched.referencedOf(d.reason()).orElse(null)))
                .filter(java.util.Objects::nonNull).sorted().distinct().toList();
        boolean largeObjects = drops.stream().anyMatch(d -> d.kind() == Kind.LARGE_OBJECTS);
        // Nulled references and updated rows are rows the backup holds with other values: --changed resets them.
        boolean changed = drops.stream().anyMatch(d -> d.kind() == Kind.NULLED || d.kind() == Kind.UPDATED);
        return tables.isEmpty() && !largeObjects ? java.util.Optional.empty() : java.util.Optional.of("backstop recover "
                + String.join(" ", tables.stream().map(t -> t.contains("\"") ? "'" + t + "'" : t).toList())
                + (largeObjects ? (tables.isEmpty() ? "" : " ") + "--large-objects" : "")
                + (changed ? " --changed" : "") + (recreated ? " --rekey-new" : "")
                + (pitr ? " --before-incident" : " --from pinned") + " --target " + target);
    }

    public String describe() {
        return switch (kind) {
            case DROPPED -> String.format(Locale.ROOT, "%s dropped from %,d to %,d rows (-%.1f%%)%s", table, before, after,
                    100.0 * (before - after) / before, RESET.equals(reason) ? "; " + reason : "");
            case EMPTIED -> String.format(Locale.ROOT, "%s is empty (had %,d rows)%s", table, before,
                    RESET.equals(reason) ? "; " + reason : "");
            case GONE -> String.format(Locale.ROOT, "%s is gone (had %,d rows)", table, before);
            case RECREATED -> "the database was recreated: " + reason;
            case LARGE_OBJECTS -> String.format(Locale.ROOT, "large objects dropped from %,d to %,d", before, after);
            case NULLED -> String.format(Locale.ROOT, "%s%s lost %,d of its %,d references (ON DELETE SET NULL/DEFAULT:"
                    + " rows it referenced were deleted)", table, reason, before - after, before);
            case UPDATED -> String.format(Locale.ROOT, "%s: %,d of its %,d rows updated at once (an UPDATE without"
                    + " WHERE?)", table, after, before);
        };
    }
}
