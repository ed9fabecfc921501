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
            Map<String, Double> thresholds, Duration checkInterval, long estimateAbove) {
        public RowCounts {
            tables = List.copyOf(tables);
            exclude = List.copyOf(exclude);
            thresholds = Map.copyOf(thresholds);
        }

        /** The drop threshold for one table: its override, else the global one. */
        public double thresholdFor(String table) {
            return thresholds.getOrDefault(table, dropThreshold);
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

    /** One database to back up. {@code password} never prints. */
    public record Target(String name, String host, int port, String database, String user,
            Secret password, String sslmode, Duration connectTimeout) {

        /** host:port/database as the operator would recognise it; no credentials. */
        public String describe() {
            return user + "@" + host + ":" + port + "/" + database;
        }
    }
}
