package io.backstop.catalog;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.backstop.catalog.Tier;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;

/**
 * What Backstop knows about one dump, stored beside it as {@code <dump>.json}. A dump is
 * Backstop's only when its manifest exists, parses and names it; retention and restore trust
 * nothing else. Never holds a password. {@code sequence} numbers a target's backups in the
 * order they were taken, so retention keeps the newest even when the clock moved backwards.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record Manifest(
        int formatVersion,
        long sequence,
        String target,
        String database,
        String host,
        int port,
        String serverVersion,
        String pgDumpVersion,
        String systemIdentifier,
        long databaseOid,
        String file,
        Tier tier,
        String label,
        Instant startedAt,
        Instant finishedAt,
        double durationSeconds,
        long sizeBytes,
        String sha256,
        String compress,
        Map<String, Long> rowCounts,
        Verification verification,
        boolean pinned,
        String pinReason,
        Drill lastDrill,
        boolean takenDuringAlarm,
        String countMethod,
        Instant fileModifiedAt,
        long databaseSizeBytes) {

    /**
     * 2: safety tier, {@code taken_during_alarm}, counts that are exactly the rows of each table's
     * data entry ({@code count_method}), and the dump's modification time ({@code file_modified_at},
     * checked with its size before a file is trusted), and the database's size at the time
     * ({@code database_size_bytes}: the room a restore drill needs). Version 1 manifests still load.
     */
    public static final int FORMAT_VERSION = 2;
    /** How version 2 counts rows: what pg_dump writes for each table, in the dump's snapshot. */
    public static final String COUNT_METHOD = "count(*) FROM ONLY each table (extension configuration tables with"
            + " their dump filter), in the dump's snapshot";

    public Manifest {
        rowCounts = rowCounts == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(rowCounts));
    }

    /** How the dump was checked before it got its final name. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Verification(String method, String result, Instant verifiedAt, int tableDataEntries, String problem) {
        public Verification(String method, String result, Instant verifiedAt, int tableDataEntries) {
            this(method, result, verifiedAt, tableDataEntries, null);
        }
    }

    public static final String DAMAGED = "damaged";

    /** The last restore drill of this backup: restored into a scratch database and counted. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Drill(Instant at, String result, double durationSeconds, String details) {
        public boolean passed() {
            return "passed".equals(result);
        }
    }

    public boolean verified() {
        return verification != null && "passed".equals(verification.result());
    }

    public long totalRows() {
        return rowCounts.values().stream().mapToLong(Long::longValue).sum();
    }

    public Manifest withFile(String newFile, Tier newTier) {
        return new Manifest(formatVersion, sequence, target, database, host, port, serverVersion, pgDumpVersion,
                systemIdentifier, databaseOid, newFile, newTier, label, startedAt, finishedAt, durationSeconds,
                sizeBytes, sha256, compress, rowCounts, verification, pinned, pinReason, lastDrill, takenDuringAlarm, countMethod, fileModifiedAt, databaseSizeBytes);
    }

    public Manifest withDrill(Drill drill) {
        return new Manifest(formatVersion, sequence, target, database, host, port, serverVersion, pgDumpVersion,
                systemIdentifier, databaseOid, file, tier, label, startedAt, finishedAt, durationSeconds,
                sizeBytes, sha256, compress, rowCounts, verification, pinned, pinReason, drill, takenDuringAlarm, countMethod, fileModifiedAt, databaseSizeBytes);
    }

    /** The same dump found damaged after it was verified: never counted, never restored, shown as such. */
    public Manifest withDamage(String why, Instant at) {
        Verification damaged = new Verification(verification == null ? null : verification.method(), DAMAGED, at,
                verification == null ? 0 : verification.tableDataEntries(), why);
        return new Manifest(formatVersion, sequence, target, database, host, port, serverVersion, pgDumpVersion,
                systemIdentifier, databaseOid, file, tier, label, startedAt, finishedAt, durationSeconds,
                sizeBytes, sha256, compress, rowCounts, damaged, pinned, pinReason, lastDrill, takenDuringAlarm, countMethod,
                fileModifiedAt, databaseSizeBytes);
    }

    public boolean damaged() {
        return verification != null && DAMAGED.equals(verification.result());
    }

    public Manifest withAlarmRaised() {
        return new Manifest(formatVersion, sequence, target, database, host, port, serverVersion, pgDumpVersion,
                systemIdentifier, databaseOid, file, tier, label, startedAt, finishedAt, durationSeconds,
                sizeBytes, sha256, compress, rowCounts, verification, pinned, pinReason, lastDrill, true, countMethod, fileModifiedAt, databaseSizeBytes);
    }

    public Manifest withPin(boolean pin, String reason) {
        return new Manifest(formatVersion, sequence, target, database, host, port, serverVersion, pgDumpVersion,
                systemIdentifier, databaseOid, file, tier, label, startedAt, finishedAt, durationSeconds,
                sizeBytes, sha256, compress, rowCounts, verification, pin, pin ? reason : null, lastDrill, takenDuringAlarm, countMethod, fileModifiedAt, databaseSizeBytes);
    }
}
