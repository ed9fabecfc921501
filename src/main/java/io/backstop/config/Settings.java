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
        List<Target> targets,
        Notify notifications,
        List<Family> families,
        Optional<Cluster> cluster) {

    public Settings {
        targets = targets instanceof TargetList live ? live : new TargetList(targets);
        families = List.copyOf(families);
    }

    /**
     * A fleet's shared job store: Quartz's clustered JDBC store in {@code schema} of the database {@code jdbcUrl}
     * names, reached as {@code user}; {@code node}: this node's unique name; {@code checkIn}: how often each node
     * reports; {@code misfireThreshold}: how late a trigger may fire before its misfire policy applies;
     * {@code threads}: how many jobs this node runs at once (the fleet's capacity is the sum over its nodes).
     */
    public record Cluster(String jdbcUrl, String user, Secret password, String schema, String node, Duration checkIn,
            Duration misfireThreshold, int threads) {
        /** How long a node may stay silent before the fleet takes it as gone (Quartz's own rule: 7.5 s of grace). */
        public Duration goneAfter() {
            Duration grace = checkIn.plusMillis(7500);
            Duration twice = checkIn.multipliedBy(2);
            return grace.compareTo(twice) > 0 ? grace : twice;
        }
    }

    /** The targets, as a list that grows while a {@code databases} family finds new databases. */
    public TargetList liveTargets() {
        return (TargetList) targets;
    }

    /**
     * A target entry with {@code databases}: every database of its server whose name matches {@code include}
     * (shell patterns; "*" every one) and none of {@code exclude}, each backed up as a target of its own named
     * {@code <name>-<database>} with the template's connection. Templates and databases that refuse connections
     * are never taken.
     */
    public record Family(Target template, List<String> include, List<String> exclude) {
        public Family {
            include = List.copyOf(include);
            exclude = List.copyOf(exclude);
        }

        public String name() {
            return template.name();
        }
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

    /**
     * Who hears of a problem: {@code channels}, each with the events it takes; a backup failure counts after
     * {@code failures} in a row; a lasting problem is announced again every {@code repeat} (zero: once);
     * {@code heartbeat} is requested after every backup (with {@code /fail} after a failed one).
     */
    public record Notify(Optional<java.net.URI> baseUrl, int failures, Duration repeat, Secret heartbeat,
            List<Channel> channels) {
        /** The event names a channel's {@code events} may list, in the order they are documented. */
        public static final List<String> EVENTS = List.of("data-loss", "backup-failing", "backup-stale",
                "backup-damaged", "drill-failed", "offsite-stale", "wal-stale", "wal-gap", "wal-retention");
        public static final Notify OFF = new Notify(Optional.empty(), 2, Duration.ofHours(6), Secret.none(), List.of());

        public Notify {
            channels = List.copyOf(channels);
        }

        public Optional<Channel> channel(String name) {
            return channels.stream().filter(c -> c.name().equals(name)).findFirst();
        }
    }

    public enum ChannelType {
        WEBHOOK("https://hooks.example.com/backstop"), SLACK("https://hooks.slack.com/services/T000/B000/XXXX"),
        DISCORD("https://discord.com/api/webhooks/123/abc"), NTFY("https://ntfy.sh/my-backups-8f3a"),
        EMAIL("smtp.example.com");

        private final String example;

        ChannelType(String example) {
            this.example = example;
        }

        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        public String example() {
            return example;
        }

        public static Optional<ChannelType> of(String word) {
            return java.util.Arrays.stream(values()).filter(t -> t.word().equals(word)).findFirst();
        }

        public static List<String> names() {
            return java.util.Arrays.stream(values()).map(ChannelType::word).toList();
        }
    }

    /**
     * One way of reaching a person. {@code url} (webhook, Slack, Discord, ntfy) is a secret: such URLs carry
     * their tokens. {@code secret}: the webhook's HMAC key, or ntfy's access token. {@code smtp}: email only.
     */
    public record Channel(String name, ChannelType type, java.util.Set<String> events, Secret url, Secret secret,
            Smtp smtp) {
        public boolean takes(String event) {
            return events.contains(event);
        }
    }

    /** An SMTP server: {@code security} is starttls, tls or none. */
    public record Smtp(String host, int port, String security, String user, Secret password, String from,
            List<String> to) {
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
