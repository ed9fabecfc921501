package io.backstop.catalog;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.backstop.catalog.Tier;
import io.backstop.pg.SnapshotFacts;
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
        long databaseSizeBytes,
        SnapshotFacts snapshotFacts,
        Globals globals,
        String node) {

    /**
     * 2: safety tier, {@code taken_during_alarm}, counts that are exactly the rows of each table's
     * data entry ({@code count_method}), and the dump's modification time ({@code file_modified_at},
     * checked with its size before a file is trusted), and the database's size at the time
     * ({@code database_size_bytes}: the room a restore drill needs), and what the dump's snapshot says
     * besides counts ({@code snapshot_facts}, absent in manifests written before it). Version 1 manifests
     * still load.
     */
    public static final int FORMAT_VERSION = 2;
    /** How version 2 counts rows: what pg_dump writes for each table, in the dump's snapshot. */
    public static final String COUNT_METHOD = "count(*) FROM ONLY each table (extension configuration tables with"
            + " their dump filter), in the dump's snapshot";

    public Manifest {
        rowCounts = rowCounts == null ? Map.of() : java.util.Collections.unmodifiableMap(new TreeMap<>(rowCounts));
    }

    /**
     * The server's globals taken beside the dump ({@code pg_dumpall --globals-only}: roles, memberships, role and
     * per-database settings, tablespaces) in {@code file} next to it. {@code rolePasswords}: false when the login
     * may not read password hashes (the roles come back without passwords). {@code problem}: why none was taken
     * (the dump still counts). Absent in manifests written before globals were taken.
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Globals(String file, String sha256, long sizeBytes, boolean rolePasswords, int roles, String problem) {
        public boolean taken() {
            return problem == null && file != null;
        }
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

    /** What the dump's snapshot said besides counts; empty facts for a manifest written before they were kept. */
    public SnapshotFacts facts() {
        return snapshotFacts == null ? new SnapshotFacts(null, null, null, null, null) : snapshotFacts;
    }

    public long totalRows() {
        return rowCounts.values().stream().mapToLong(Long::longValue).sum();
    }

    public Manifest withFile(String newFile, Tier newTier) {
        return toBuilder().file(newFile).tier(newTier).build();
    }

    public Manifest withDrill(Drill drill) {
        return toBuilder().lastDrill(drill).build();
    }

    /** The same dump found damaged after it was verified: never counted, never restored, shown as such. */
    public Manifest withDamage(String why, Instant at) {
        Verification damaged = new Verification(verification == null ? null : verification.method(), DAMAGED, at,
                verification == null ? 0 : verification.tableDataEntries(), why);
        return toBuilder().verification(damaged).build();
    }

    public boolean damaged() {
        return verification != null && DAMAGED.equals(verification.result());
    }

    public Manifest withAlarmRaised() {
        return toBuilder().takenDuringAlarm(true).build();
    }

    public Manifest withPin(boolean pin, String reason) {
        return toBuilder().pinned(pin).pinReason(pin ? reason : null).build();
    }

    /** A manifest to be made: each component named, none given by position. Starts at the current format. */
    public static Builder builder() {
        return new Builder().formatVersion(FORMAT_VERSION);
    }

    /** This manifest's components in a builder, to change some of them. */
    public Builder toBuilder() {
        Builder b = new Builder();
            b.formatVersion = formatVersion;
            b.sequence = sequence;
            b.target = target;
            b.database = database;
            b.host = host;
            b.port = port;
            b.serverVersion = serverVersion;
            b.pgDumpVersion = pgDumpVersion;
            b.systemIdentifier = systemIdentifier;
            b.databaseOid = databaseOid;
            b.file = file;
            b.tier = tier;
            b.label = label;
            b.startedAt = startedAt;
            b.finishedAt = finishedAt;
            b.durationSeconds = durationSeconds;
            b.sizeBytes = sizeBytes;
            b.sha256 = sha256;
            b.compress = compress;
            b.rowCounts = rowCounts;
            b.verification = verification;
            b.pinned = pinned;
            b.pinReason = pinReason;
            b.lastDrill = lastDrill;
            b.takenDuringAlarm = takenDuringAlarm;
            b.countMethod = countMethod;
            b.fileModifiedAt = fileModifiedAt;
            b.databaseSizeBytes = databaseSizeBytes;
            b.snapshotFacts = snapshotFacts;
            b.globals = globals;
            b.node = node;
        return b;
    }

    /** Builds a {@link Manifest} by name; components not set are null, zero or false. */
    public static final class Builder {
        private int formatVersion;
        private long sequence;
        private String target;
        private String database;
        private String host;
        private int port;
        private String serverVersion;
        private String pgDumpVersion;
        private String systemIdentifier;
        private long databaseOid;
        private String file;
        private Tier tier;
        private String label;
        private Instant startedAt;
        private Instant finishedAt;
        private double durationSeconds;
        private long sizeBytes;
        private String sha256;
        private String compress;
        private Map<String, Long> rowCounts;
        private Verification verification;
        private boolean pinned;
        private String pinReason;
        private Drill lastDrill;
        private boolean takenDuringAlarm;
        private String countMethod;
        private Instant fileModifiedAt;
        private long databaseSizeBytes;
        private SnapshotFacts snapshotFacts;
        private Globals globals;
        private String node;

        private Builder() {
        }

        public Builder formatVersion(int formatVersion) {
            this.formatVersion = formatVersion;
            return this;
        }

        public Builder sequence(long sequence) {
            this.sequence = sequence;
            return this;
        }

        public Builder target(String target) {
            this.target = target;
            return this;
        }

        public Builder database(String database) {
            this.database = database;
            return this;
        }

        public Builder host(String host) {
            this.host = host;
            return this;
        }

        public Builder port(int port) {
            this.port = port;
            return this;
        }

        public Builder serverVersion(String serverVersion) {
            this.serverVersion = serverVersion;
            return this;
        }

        public Builder pgDumpVersion(String pgDumpVersion) {
            this.pgDumpVersion = pgDumpVersion;
            return this;
        }

        public Builder systemIdentifier(String systemIdentifier) {
            this.systemIdentifier = systemIdentifier;
            return this;
        }

        public Builder databaseOid(long databaseOid) {
            this.databaseOid = databaseOid;
            return this;
        }

        public Builder file(String file) {
            this.file = file;
            return this;
        }

        public Builder tier(Tier tier) {
            this.tier = tier;
            return this;
        }

        public Builder label(String label) {
            this.label = label;
            return this;
        }

        public Builder startedAt(Instant startedAt) {
            this.startedAt = startedAt;
            return this;
        }

        public Builder finishedAt(Instant finishedAt) {
            this.finishedAt = finishedAt;
            return this;
        }

        public Builder durationSeconds(double durationSeconds) {
            this.durationSeconds = durationSeconds;
            return this;
        }

        public Builder sizeBytes(long sizeBytes) {
            this.sizeBytes = sizeBytes;
            return this;
        }

        public Builder sha256(String sha256) {
            this.sha256 = sha256;
            return this;
        }

        public Builder compress(String compress) {
            this.compress = compress;
            return this;
        }

        public Builder rowCounts(Map<String, Long> rowCounts) {
            this.rowCounts = rowCounts;
            return this;
        }

        public Builder verification(Verification verification) {
            this.verification = verification;
            return this;
        }

        public Builder pinned(boolean pinned) {
            this.pinned = pinned;
            return this;
        }

        public Builder pinReason(String pinReason) {
            this.pinReason = pinReason;
            return this;
        }

        public Builder lastDrill(Drill lastDrill) {
            this.lastDrill = lastDrill;
            return this;
        }

        public Builder takenDuringAlarm(boolean takenDuringAlarm) {
            this.takenDuringAlarm = takenDuringAlarm;
            return this;
        }

        public Builder countMethod(String countMethod) {
            this.countMethod = countMethod;
            return this;
        }

        public Builder fileModifiedAt(Instant fileModifiedAt) {
            this.fileModifiedAt = fileModifiedAt;
            return this;
        }

        public Builder databaseSizeBytes(long databaseSizeBytes) {
            this.databaseSizeBytes = databaseSizeBytes;
            return this;
        }

        public Builder snapshotFacts(SnapshotFacts snapshotFacts) {
            this.snapshotFacts = snapshotFacts;
            return this;
        }

        /** The fleet node that took the backup (absent outside a fleet). */
        public Builder node(String node) {
            this.node = node;
            return this;
        }

        public Builder globals(Globals globals) {
            this.globals = globals;
            return this;
        }

        public Manifest build() {
            return new Manifest(formatVersion, sequence, target, database, host, port, serverVersion, pgDumpVersion, systemIdentifier, databaseOid, file, tier, label, startedAt, finishedAt, durationSeconds, sizeBytes, sha256, compress, rowCounts, verification, pinned, pinReason, lastDrill, takenDuringAlarm, countMethod, fileModifiedAt, databaseSizeBytes, snapshotFacts, globals, node);
        }
    }
}
