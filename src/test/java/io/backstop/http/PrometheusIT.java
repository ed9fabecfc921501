package io.backstop.http;

import io.backstop.testing.Tools;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shipped rules in a real Prometheus (Debian's) scraping a live daemon on 127.0.0.1. */
class PrometheusIT {
    private static final Pattern METRIC = Pattern.compile("\\b(backstop_[a-z_]+|process_start_time_seconds|up)\\b");
    private final PgCluster pg = PgCluster.shared();
    private final ObjectMapper json = new ObjectMapper();
    private final HttpClient client = HttpClient.newHttpClient();

    @TempDir
    Path dir;

    @Test
    void staleAndDataLossAlertsGoFromInactiveToPendingOrFiringAgainstTheLiveDaemon() throws Exception {
        String db = pg.createDatabase("prom");
        pg.execute(db, "CREATE TABLE users(id int)", "INSERT INTO users SELECT generate_series(1, 500)");
        Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_STALE_AFTER", "15s");
        env.put("BACKSTOP_CHECK_INTERVAL", "1s");
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("the start-up backup", Duration.ofSeconds(20), () -> HttpIT.backedUp(d));
            int promPort = freePort();
            Path config = dir.resolve("prometheus.yml");
            Files.writeString(config, """
                    global: {scrape_interval: 1s, evaluation_interval: 1s}
                    rule_files: ["%s"]
                    scrape_configs:
                      - job_name: backstop
                        static_configs: [{targets: ["127.0.0.1:%d"]}]
                    """.formatted(Path.of("config/prometheus/alerts.yml").toAbsolutePath(), d.port));
            Process prometheus = new ProcessBuilder(Tools.require("prometheus", "prometheus"), "--config.file=" + config,
                    "--storage.tsdb.path=" + dir.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + promPort)
                    .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
            try {
                URI alerts = URI.create("http://127.0.0.1:" + promPort + "/api/v1/alerts");
                Fixtures.await("Prometheus scraping the daemon", Duration.ofSeconds(30),
                        () -> query(promPort, "up{job=\"backstop\"}").contains("\"1\""));
                // absent(up) is pending until the first scrape is evaluated; then nothing may be pending or firing.
                Fixtures.await("no alert pending or firing with a fresh backup and no drop", Duration.ofSeconds(15),
                        () -> alertStates(alerts).isEmpty());
                // Still quiet after the rules were evaluated twice more (each a chance to go pending).
                java.time.Instant quietAt = java.time.Instant.now();
                Fixtures.await("two more rule evaluations", Duration.ofSeconds(30),
                        () -> lastEvaluation(promPort).isAfter(quietAt.plusSeconds(1)));
                assertThat(alertStates(alerts)).as("still quiet").isEmpty();

                pg.execute(db, "DELETE FROM users");
                Fixtures.await("BackstopDataLoss firing", Duration.ofSeconds(30),
                        () -> "firing".equals(alertStates(alerts).get("BackstopDataLoss")));
                Fixtures.await("BackstopBackupStale pending (for: 5m)", Duration.ofSeconds(30),
                        () -> "pending".equals(alertStates(alerts).get("BackstopBackupStale")));
            } finally {
                prometheus.destroy();
                prometheus.waitFor();
            }
        }
    }

    private static Map<String, String> withOffsite(Map<String, String> env, io.backstop.testing.S3Server s3) {
        env.putAll(s3.env("names-bucket/prometheus"));
        return env;
    }

    @Test
    void everyMetricNameInTheRulesAndTheDashboardIsExportedWithOffsiteCopiesConfigured() throws Exception {
        String db = pg.createDatabase("names");
        pg.execute(db, "CREATE TABLE users(id int)", "INSERT INTO users VALUES (1)");
        Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_PITR", "true"); // its series exist per target with PITR on (this server cannot stream: no matter)
        Set<String> used = new TreeSet<>();
        JsonNode dashboard = json.readTree(Path.of("config/grafana/dashboards/backstop.json").toFile());
        assertThat(dashboard.get("panels")).hasSizeGreaterThanOrEqualTo(10);
        for (JsonNode panel : dashboard.get("panels")) {
            assertThat(panel.get("title").asText()).isNotBlank();
            assertThat(panel.get("targets")).as(panel.get("title").asText()).isNotEmpty();
            for (JsonNode target : panel.get("targets")) {
                assertThat(target.get("datasource").get("uid").asText()).isEqualTo("prometheus");
                used.addAll(names(target.get("expr").asText()));
            }
        }
        used.addAll(names(Files.readString(Path.of("config/prometheus/alerts.yml"))));
        used.remove("up"); // Prometheus's own series
        // Only a fleet's nodes export the fleet's series: FleetIT reads them from a node.
        used.removeIf(n -> n.startsWith("backstop_fleet_"));
        // With offsite copies configured, as the offsite alert assumes (without, those series do not exist).
        try (io.backstop.testing.S3Server s3 = io.backstop.testing.S3Server.start(dir.resolve("s3"), "names-bucket");
                LiveDaemon d = new LiveDaemon(withOffsite(env, s3))) {
            Fixtures.await("the start-up backup", Duration.ofSeconds(20), () -> HttpIT.backedUp(d));
            String metrics = d.get("/metrics").body();
            Set<String> exported = new TreeSet<>();
            for (String line : metrics.split("\n")) {
                if (!line.startsWith("#") && !line.isBlank()) {
                    exported.add(line.split("[{ ]", 2)[0]);
                }
            }
            assertThat(exported).as("exported by the daemon").containsAll(used);
            assertThat(exported).contains("backstop_backup_last_success_timestamp_seconds",
                    "backstop_backup_last_attempt_timestamp_seconds", "backstop_backup_last_duration_seconds",
                    "backstop_backup_last_size_bytes", "backstop_backup_runs_total", "backstop_backup_in_progress",
                    "backstop_backups_retained", "backstop_retention_deleted_total", "backstop_table_rows",
                    "backstop_table_rows_baseline", "backstop_data_loss_alarm",
                    "backstop_rowcount_last_check_timestamp_seconds",
                    "backstop_restore_drill_last_success_timestamp_seconds", "backstop_restore_drill_last_result",
                    "backstop_backup_dir_free_bytes", "backstop_build_info", "jvm_memory_used_bytes",
                    "process_cpu_usage", "backstop_offsite_last_success_timestamp_seconds",
                    "backstop_offsite_lag_seconds", "backstop_offsite_uploaded_bytes_total",
                    "backstop_offsite_failures_total", "backstop_offsite_max_lag_seconds");
            assertThat(metrics).contains("backstop_table_rows{table=\"public.users\",target=\"app\"} 1.0",
                    "backstop_backups_retained{target=\"app\",tier=\"hourly\"} 1.0",
                    "backstop_backup_runs_total{result=\"success\",target=\"app\"} 1.0");
        }
    }

    private static Set<String> names(String expr) {
        Set<String> names = new TreeSet<>();
        Matcher m = METRIC.matcher(expr);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    private Map<String, String> alertStates(URI alerts) {
        try {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(alerts).build(), HttpResponse.BodyHandlers.ofString());
            Map<String, String> states = new java.util.HashMap<>();
            for (JsonNode a : json.readTree(r.body()).get("data").get("alerts")) {
                states.put(a.get("labels").get("alertname").asText(), a.get("state").asText());
            }
            return states;
        } catch (Exception e) {
            return Map.of("unreachable", e.toString());
        }
    }

    /** When Prometheus last evaluated the alert rules (the oldest of the groups); the epoch before the first. */
    private java.time.Instant lastEvaluation(int port) {
        try {
            URI uri = URI.create("http://127.0.0.1:" + port + "/api/v1/rules");
            JsonNode groups = json.readTree(client.send(HttpRequest.newBuilder(uri).build(),
                    HttpResponse.BodyHandlers.ofString()).body()).get("data").get("groups");
            java.time.Instant oldest = null;
            for (JsonNode g : groups) {
                java.time.Instant at = java.time.OffsetDateTime.parse(g.get("lastEvaluation").asText()).toInstant();
                oldest = oldest == null || at.isBefore(oldest) ? at : oldest;
            }
            return oldest == null ? java.time.Instant.EPOCH : oldest;
        } catch (Exception e) {
            return java.time.Instant.EPOCH;
        }
    }

    private String query(int port, String promql) {
        try {
            URI uri = URI.create("http://127.0.0.1:" + port + "/api/v1/query?query="
                    + java.net.URLEncoder.encode(promql, java.nio.charset.StandardCharsets.UTF_8));
            return client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()).body();
        } catch (Exception e) {
            return "";
        }
    }

    private static int freePort() throws java.io.IOException {
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
