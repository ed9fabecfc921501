package io.backstop.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Manifests;
import io.backstop.files.Hashing;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's scheduled restore drill, seen through /health and /metrics. */
class DrillHealthIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    @Test
    void aPassingDrillIsReportedAndAFailingOneTurnsHealthTo503() throws Exception {
        String db = pg.createDatabase("drillhealth");
        pg.execute(db, "CREATE TABLE users(id int)", "INSERT INTO users SELECT generate_series(1, 200)");
        Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_RESTORE_DRILL_EVERY", "2s");
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("a passing drill", Duration.ofSeconds(30),
                    () -> d.get("/metrics").body().contains("backstop_restore_drill_last_result{target=\"app\"} 1.0"));
            assertThat(d.get("/health").statusCode()).isEqualTo(200);
        }
        // Tamper with the newest backup after its verification: another valid archive, its sha256, size and time
        // "fixed" in the manifest, so that only a restore drill can tell.
        Path dump = Fixtures.finalDumps(dir.resolve("backups/app/hourly")).get(0);
        pg.execute(db, "DELETE FROM users WHERE id > 50");
        Path other = dir.resolve("other");
        assertThat(Cli.run(Cli.env(pg, db, other), "backup").status()).isZero();
        Files.copy(Fixtures.finalDumps(other.resolve("app/hourly")).get(0), dump,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Manifests manifests = new Manifests();
        ObjectNode m = (ObjectNode) manifests.json().readTree(BackupLayout.manifestOf(dump).toFile());
        m.put("sha256", Hashing.sha256(dump));
        m.put("size_bytes", Files.size(dump));
        m.put("file_modified_at", Files.getLastModifiedTime(dump).toInstant().toString());
        Files.writeString(BackupLayout.manifestOf(dump), m.toString());
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("DRILL_FAILED", Duration.ofSeconds(30), () -> d.get("/health").body().contains("DRILL_FAILED"));
            assertThat(d.get("/health").statusCode()).isEqualTo(503);
            assertThat(d.get("/metrics").body()).contains("backstop_restore_drill_last_result{target=\"app\"} 0.0");
            assertThat(manifests.read(dump).lastDrill().result()).isEqualTo("failed");
        }
    }
}
