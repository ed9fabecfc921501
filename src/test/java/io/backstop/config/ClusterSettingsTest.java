package io.backstop.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code backstop.cluster}: off by default; on, a job store named by URL or parts, the node, its timings. */
class ClusterSettingsTest {
    @TempDir
    Path dir;

    private Settings load(String conf, Map<String, String> env) throws IOException {
        return ConfFiles.load(dir, conf, env);
    }

    private String failure(String conf) {
        return ConfFiles.failure(dir, conf);
    }

    @Test
    void offByDefault() throws IOException {
        assertThat(load("", Map.of()).cluster()).isEmpty();
    }

    @Test
    void onWithItsPartsAndDefaults() throws IOException {
        Settings.Cluster c = load("backstop.cluster { enabled = true, host = jobs.internal, port = 6432,"
                + " database = fleet, user = bk, password = pw, node = n1 }", Map.of()).cluster().orElseThrow();
        assertThat(c.jdbcUrl()).isEqualTo("jdbc:postgresql://jobs.internal:6432/fleet");
        assertThat(c.user()).isEqualTo("bk");
        assertThat(c.password().reveal()).isEqualTo("pw");
        assertThat(c.node()).isEqualTo("n1");
        assertThat(c.schema()).isEqualTo("backstop_fleet");
        assertThat(c.checkIn()).isEqualTo(Duration.ofSeconds(15));
        assertThat(c.misfireThreshold()).isEqualTo(Duration.ofSeconds(60));
        assertThat(c.threads()).isEqualTo(4);
        // Quartz takes a node as failed 7.5 s after a missed check-in; never sooner than two check-ins.
        assertThat(c.goneAfter()).isEqualTo(Duration.ofSeconds(30));
    }

    @Test
    void fromTheEnvironmentWithThePasswordFromAFile() throws IOException {
        Path pw = Files.writeString(dir.resolve("pw"), "from-file\n");
        Settings.Cluster c = load("", Map.of("BACKSTOP_CLUSTER", "true",
                "BACKSTOP_CLUSTER_JDBC_URL", "jdbc:postgresql://store:5432/jobs", "BACKSTOP_CLUSTER_PASSWORD_FILE",
                pw.toString(), "BACKSTOP_CLUSTER_NODE", "node-7", "BACKSTOP_CLUSTER_THREADS", "2"))
                .cluster().orElseThrow();
        assertThat(c.jdbcUrl()).isEqualTo("jdbc:postgresql://store:5432/jobs");
        assertThat(c.password().reveal()).isEqualTo("from-file");
        assertThat(c.node()).isEqualTo("node-7");
        assertThat(c.threads()).isEqualTo(2);
    }

    @Test
    void aNodeWithoutANameIsNamedAfterItsHost() throws IOException {
        assertThat(load("backstop.cluster.enabled = true", Map.of()).cluster().orElseThrow().node()).isNotBlank();
    }

    @Test
    void badValuesAreNamedWithWhatIsAllowed() {
        assertThat(failure("backstop.cluster { enabled = true, jdbc-url = \"mysql://x/y\" }"))
                .contains("cluster.jdbc-url").contains("jdbc:postgresql://");
        assertThat(failure("backstop.cluster { enabled = true, schema = \"Robert'); DROP\" }"))
                .contains("cluster.schema").contains("lower-case");
        assertThat(failure("backstop.cluster { enabled = true, node = \"a b\" }"))
                .contains("cluster.node").contains("letters, digits");
        assertThat(failure("backstop.cluster { enabled = true, threads = 0 }")).contains("cluster.threads");
    }

    @Test
    void thePasswordNeverShows() throws IOException {
        Settings s = load("backstop.cluster { enabled = true, password = \"s3cr3t-pw\" }", Map.of());
        assertThat(s.cluster().orElseThrow().toString()).doesNotContain("s3cr3t-pw");
    }
}
