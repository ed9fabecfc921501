package io.backstop.config;

import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneId;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The whole configuration, validated and immutable. Built once by {@link SettingsLoader}. */
public record Settings(
        Path backupDir,
        String schedule,
        ZoneId timezone,
        Duration staleAfter,
        Duration startupGrace,
        Retention retention,
        PgDump pgDump,
        RowCounts rowCounts,
        RestoreDrill restoreDrill,
        Http http,
        Optional<Offsite> offsite,
        Encryption encryption,
        List<Target> targets) {

    public Settings {
        targets = List.copyOf(targets);
    }

    public Optional<Target> target(String name) {
        return targets.stream().filter(t -> t.name().equals(name)).findFirst();
    }

    public record Retention(int hourly, int daily, int weekly, int monthly, int manual, int safety) {
    }

    public record PgDump(Optional<Path> binDir, String compress, int jobs, Duration lockWaitTimeout,
            Duration timeout, List<String> extraArgs) {
        public PgDump {
            extraArgs = List.copyOf(extraArgs);
        }
    }

    public record RowCounts(List<String> tables, List<String> exclude, double dropThreshold,
            Map<String, Double> thresholds, Duration checkInterval, long estimateAbove, double updateThreshold) {
        public RowCounts {
            tables = List.copyOf(tables);
            exclude = List.copyOf(exclude);
            thresholds = Map.copyOf(thresholds);
        }

        /** The drop threshold for one table: its override, else the global one. */
        public double thresholdFor(String table) {
            return thresholds.getOrDefault(table, dropThreshold);
        }

        /** The same settings without a mass-update watch (a safety backup's own counts). */
        public RowCounts only(List<String> someTables) {
            return new RowCounts(someTables, List.of(), dropThreshold, Map.of(), checkInterval, estimateAbove, 0);
        }
    }

    /**
     * Where and how often drills run. {@code server} is a separate drill server (empty when its
     * host is blank); {@code scratchDir} empty means the default place for a local cluster.
     */
    public record RestoreDrill(Duration every, Optional<Path> scratchDir, Optional<Target> server, boolean onTarget,
            Duration rtoTarget) {
    }

    public record Http(String bind, int port, Secret token) {
    }

    /**
     * Copies in an S3-compatible store ({@code offsite.url} set). {@code endpoint} empty: AWS's own
     * for {@code region}. Keys never print. {@code lock} empty: no object lock.
     */
    public record Offsite(String bucket, String prefix, Optional<java.net.URI> endpoint, String region,
            boolean pathStyle, Secret accessKey, Secret secretKey, Retention retention, Optional<ObjectLock> lock,
            Duration maxLag, Duration interval, long multipartThreshold, long partSize, String checksum,
            String uploader) {

        /** s3://bucket/prefix as the operator wrote it (no credentials in it). */
        public String describe() {
            return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix);
        }
    }

    /** Object lock: each copy is retained until its upload time plus {@code period}, in {@code mode}. */
    public record ObjectLock(String mode, Duration period) {
    }

    /**
     * age recipients (public keys only). {@code local}/{@code offsite}: which copies are encrypted;
     * both false (or no recipients) means none.
     */
    public record Encryption(List<String> recipients, boolean local, boolean offsite) {
        public Encryption {
            recipients = List.copyOf(recipients);
        }

        public boolean offsiteEncrypted() {
            return offsite && !recipients.isEmpty();
        }

        public boolean localEncrypted() {
            return local && !recipients.isEmpty();
        }
    }

    /**
     * Point-in-time recovery for one target: WAL streamed through the physical replication slot
     * {@code slot} and base backups every {@code baseBackupEvery}, the newest {@code baseBackupKeep}
     * kept. {@code maxLag}: /health says WAL_STALE when nothing arrived for this long while the server
     * writes. {@code slotAlertBytes}: WAL the slot may hold back on the server before the alert fires.
     */
    public record Pitr(boolean enabled, String slot, Duration maxLag, Duration baseBackupEvery, int baseBackupKeep,
            long slotAlertBytes) {
        public static final Pitr OFF = new Pitr(false, "", Duration.ofMinutes(5), Duration.ofDays(1), 2, 1L << 30);
    }

    /** One database to back up. {@code password} never prints. */
    public record Target(String name, String host, int port, String database, String user,
            Secret password, String sslmode, Duration connectTimeout, Pitr pitr) {

        public Target(String name, String host, int port, String database, String user, Secret password,
                String sslmode, Duration connectTimeout) {
            this(name, host, port, database, user, password, sslmode, connectTimeout, Pitr.OFF);
        }

        public Target withPitr(Pitr settings) {
            return new Target(name, host, port, database, user, password, sslmode, connectTimeout, settings);
        }

        /** host:port/database as the operator would recognise it; no credentials. */
        public String describe() {
            return user + "@" + host + ":" + port + "/" + database;
        }
    }
}
