package io.backstop.demo;

import io.backstop.testing.Tools;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** docker-compose.yml, the Dockerfile and alertmanager.yml, checked by their own tools and by reading them. */
class ContainerFilesTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    static String run(String... command) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            throw new AssertionError(command[0] + " is not installed (.ci/run installs it)", e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(String.join(" ", command) + "\n" + out).isZero();
        return out;
    }

    @Test
    void composeFileIsValid() throws Exception {
        run(Tools.require("docker-compose", "docker-compose"), "-f", "docker-compose.yml", "config", "-q");
    }

    @Test
    void theFleetsComposeFileRunsThreeNodesOnOneJobStoreAndOneBackupDirectory() throws Exception {
        // Resolved by docker-compose itself: the nodes share one definition through a YAML anchor.
        JsonNode c = YAML.readTree(run(Tools.require("docker-compose", "docker-compose"), "-f",
                "docker-compose.fleet.yml", "config"));
        java.util.Set<String> names = new java.util.TreeSet<>();
        for (String node : java.util.List.of("node-a", "node-b", "node-c")) {
            JsonNode n = c.at("/services/" + node);
            assertThat(n.at("/environment/BACKSTOP_CLUSTER").asText()).isEqualTo("true");
            assertThat(n.at("/environment/BACKSTOP_CLUSTER_HOST").asText()).isEqualTo("jobs");
            assertThat(n.at("/environment/BACKSTOP_CLUSTER_PASSWORD_FILE").asText()).startsWith("/run/secrets/");
            assertThat(n.at("/environment").toString()).doesNotContain("BACKSTOP_CLUSTER_PASSWORD\"");
            assertThat(n.at("/depends_on/jobs/condition").asText()).isEqualTo("service_healthy");
            assertThat(n.at("/volumes").toString()).contains("/backups").contains("fleet.conf");
            assertThat(n.at("/healthcheck/test").toString()).contains("/health");
            names.add(n.at("/environment/BACKSTOP_CLUSTER_NODE").asText());
        }
        assertThat(names).as("each node's name unique").hasSize(3);
        assertThat(c.at("/services/jobs/healthcheck/test").toString()).contains("pg_isready");
        for (JsonNode secret : c.at("/secrets")) {
            assertThat(Path.of(secret.at("/file").asText())).exists();
        }
        // The configuration the nodes run is valid as they read it.
        io.backstop.config.Settings settings = new io.backstop.config.SettingsLoader(java.util.Map.of(
                "BACKSTOP_CLUSTER", "true", "BACKSTOP_CLUSTER_HOST", "jobs", "BACKSTOP_CLUSTER_NODE", "node-a"))
                .load(java.util.Optional.of(Path.of("config/fleet.conf")));
        assertThat(settings.cluster()).isPresent();
        assertThat(settings.families()).hasSize(1);
    }

    @Test
    void composeWiresTheSidecarAsDocumented() throws Exception {
        JsonNode c = YAML.readTree(Path.of("docker-compose.yml").toFile());
        JsonNode db = c.at("/services/db");
        assertThat(db.at("/healthcheck/test").toString()).contains("pg_isready");
        assertThat(db.at("/volumes").toString()).contains("pgdata:/var/lib/postgresql",
                "./config/postgres/pg_hba.conf:/etc/postgresql/pg_hba.conf:ro");
        assertThat(db.at("/command").toString()).contains("hba_file=/etc/postgresql/pg_hba.conf",
                "max_slot_wal_keep_size=");
        assertThat(java.nio.file.Files.readString(Path.of("config/postgres/pg_hba.conf")))
                .containsPattern("(?m)^host\\s+replication\\s+all\\s+all\\s+scram-sha-256$")
                .containsPattern("(?m)^local\\s+all\\s+all\\s+trust$");
        assertThat(c.at("/volumes").has("pgdata")).as("a named volume for the database").isTrue();

        JsonNode backup = c.at("/services/backup");
        assertThat(backup.at("/depends_on/db/condition").asText()).isEqualTo("service_healthy");
        assertThat(backup.at("/volumes").toString()).as("a bind mount survives down -v").contains("./backups:/backups");
        assertThat(backup.at("/environment/PGPASSWORD_FILE").asText()).isEqualTo("/run/secrets/db_password");
        assertThat(backup.at("/environment").toString()).doesNotContain("PGPASSWORD\"");
        assertThat(backup.at("/healthcheck/test").toString()).contains("/health");
        assertThat(backup.at("/build/args/PG_MAJOR").asText()).isNotBlank();
        assertThat(backup.at("/stop_grace_period").asText()).isEqualTo("15s");
        assertThat(backup.at("/environment/BACKSTOP_PITR").asText()).as("PITR on in the example").isEqualTo("true");

        assertThat(c.at("/services/prometheus/volumes").toString()).contains("config/prometheus/alerts.yml");
        assertThat(c.at("/services/alertmanager/volumes").toString()).contains("config/alertmanager/alertmanager.yml");
        assertThat(c.at("/services/grafana/volumes").toString()).contains("config/grafana/provisioning",
                "config/grafana/dashboards");
        for (JsonNode secret : c.at("/secrets")) {
            assertThat(Path.of(secret.at("/file").asText())).exists();
        }
        JsonNode prometheus = YAML.readTree(Path.of("config/prometheus/prometheus.yml").toFile());
        assertThat(prometheus.at("/scrape_configs/0/static_configs/0/targets/0").asText()).isEqualTo("backup:8080");
    }

    @Test
    void alertmanagerConfigIsValid() throws Exception {
        assertThat(run(Tools.require("amtool", "prometheus-alertmanager"), "check-config", "config/alertmanager/alertmanager.yml")).contains("SUCCESS");
    }

    @Test
    void theImageDropsRootForItsWorkHasAHealthcheckABackupVolumeAndTheServerBinariesForDrills() throws Exception {
        List<String> lines = Files.readAllLines(Path.of("Dockerfile"));
        String text = String.join("\n", lines);
        assertThat(text).containsPattern("(?m)^ARG PG_MAJOR=\\d+$").containsPattern("(?m)^ARG PG_SOURCE=pgdg$")
                .containsPattern("(?m)^VOLUME /backups$").contains("HEALTHCHECK", "postgresql-client-${PG_MAJOR}",
                        "\"postgresql-${PG_MAJOR}\"", "useradd --system --uid 10001");
        assertThat(text).as("no test-time certificate authority in the shipped image").doesNotContain("local-ca", "extra-ca");
        List<String> froms = lines.stream().filter(l -> l.startsWith("FROM ")).toList();
        assertThat(froms.get(0)).contains("MAVEN_IMAGE");
        assertThat(froms.get(froms.size() - 1)).contains("${BASE}");
        String entrypoint = Files.readString(Path.of("docker-entrypoint.sh"));
        assertThat(entrypoint).contains("setpriv --reuid=", "chown").doesNotContain("sudo");
    }
}
