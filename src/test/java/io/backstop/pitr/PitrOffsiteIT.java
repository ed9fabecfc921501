package io.backstop.pitr;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.http.LiveDaemon;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import io.backstop.testing.S3Server;
import io.backstop.testing.Tools;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * WAL and base backups go offsite as they complete, age-encrypted: a segment finished by the server is in
 * the store within seconds, decrypts to the archived bytes, and the base backup's files and record follow.
 */
class PitrOffsiteIT {
    private static final Duration WAIT = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    private PgCluster pg;

    @AfterEach
    void stopServer() {
        if (pg != null) {
            pg.close();
        }
    }

    private static String run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(p.waitFor()).as(out).isZero();
        return out;
    }

    @Test
    void completedSegmentsAndBaseBackupsReachTheStoreEncryptedWithinSeconds() throws Exception {
        pg = PgCluster.startReplicating(Map.of());
        String db = pg.createDatabase("pitroffsite");
        Path key = dir.resolve("age-key.txt");
        run(List.of(Tools.require("age-keygen", "age"), "-o", key.toString()));
        String recipient = run(List.of("age-keygen", "-y", key.toString()));
        try (S3Server s3 = S3Server.start(dir.resolve("s3"), "wal-bucket")) {
            Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
            env.putAll(s3.env("wal-bucket/pitr"));
            env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
            env.put("BACKSTOP_RESTORE_DRILL_EVERY", "0");
            env.put("BACKSTOP_PITR", "true");
            env.put("BACKSTOP_AGE_RECIPIENTS", recipient);
            env.put("BACKSTOP_OFFSITE_INTERVAL", "1m");
            Path store = s3.data().resolve("wal-bucket").resolve("pitr").resolve("app");
            try (LiveDaemon d = new LiveDaemon(env)) {
                Fixtures.await("the base backup offsite", WAIT, () -> Files.isDirectory(store.resolve("base"))
                        && listing(store.resolve("base")).stream().anyMatch(p -> p.endsWith(".json")));
                assertThat(listing(store.resolve("base"))).anyMatch(p -> p.endsWith(".tar.age"));

                String segment;
                try (Connection c = pg.connect(db); Statement st = c.createStatement();
                        ResultSet rs = st.executeQuery("SELECT pg_walfile_name(pg_current_wal_lsn()),"
                                + " pg_logical_emit_message(false, 'test', 'x'), pg_switch_wal()")) {
                    rs.next();
                    segment = rs.getString(1);
                }
                long switched = System.nanoTime();
                String system = Files.readString(dir.resolve("backups").resolve("app").resolve("wal")
                        .resolve("system-identifier")).strip();
                Path object = store.resolve("wal").resolve(system).resolve(segment + ".age"); // under its cluster
                Fixtures.await("segment " + segment + " offsite", WAIT, () -> Files.isRegularFile(object));
                assertThat(Duration.ofNanos(System.nanoTime() - switched)).as("not the offsite interval's wait")
                        .isLessThan(Duration.ofSeconds(50));
                Fixtures.await("the offsite lag back to 0", WAIT, () -> d.get("/metrics").body()
                        .contains("backstop_offsite_lag_seconds{target=\"app\"} 0.0"));

                Process decrypt = new ProcessBuilder("age", "-d", "-i", key.toString(), object.toString()).start();
                ByteArrayOutputStream plain = new ByteArrayOutputStream();
                decrypt.getInputStream().transferTo(plain);
                assertThat(decrypt.waitFor()).isZero();
                assertThat(plain.toByteArray()).isEqualTo(Files.readAllBytes(
                        dir.resolve("backups").resolve("app").resolve("wal").resolve(segment)));
                String ledger = Files.readString(dir.resolve("backups").resolve("app").resolve("offsite-wal.json"));
                assertThat(ledger).contains(segment, "read back").doesNotContain(S3Server.SECRET_KEY);
            }
        }
    }

    private static List<String> listing(Path root) {
        try (Stream<Path> all = Files.walk(root)) {
            return all.filter(Files::isRegularFile).map(p -> root.relativize(p).toString()).toList();
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return List.of(); // the store is writing there
        }
    }
}
