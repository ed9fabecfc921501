package io.backstop.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import io.backstop.testing.S3Server;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's offsite copies seen from outside: /health's OFFSITE_STALE, the offsite metrics, and catch-up. */
class OffsiteHealthIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    private static double metric(String body, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{target=\"app\"} (\\S+)$").matcher(body);
        return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
    }

    @Test
    void aStoreThatIsDownTurnsHealthToOffsiteStaleAndItsReturnIsCaughtUp() throws Exception {
        String db = pg.createDatabase("offsitehealth");
        pg.execute(db, "CREATE TABLE users(id int)", "INSERT INTO users SELECT generate_series(1, 300)");
        try (S3Server s3 = S3Server.start(dir.resolve("s3"), "health-bucket")) {
            Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
            env.putAll(s3.env("health-bucket/daemon"));
            env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
            env.put("BACKSTOP_OFFSITE_INTERVAL", "1s");
            env.put("BACKSTOP_OFFSITE_MAX_LAG", "1m");
            s3.kill();
            try (LiveDaemon d = new LiveDaemon(env)) {
                // The start-up backup is taken and kept; its copy fails and is retried with backoff.
                Fixtures.await("an offsite failure counted", Duration.ofSeconds(60),
                        () -> metric(d.get("/metrics").body(), "backstop_offsite_failures_total") >= 2);
                String metrics = d.get("/metrics").body();
                assertThat(metric(metrics, "backstop_backup_last_success_timestamp_seconds")).isPositive();
                assertThat(metric(metrics, "backstop_offsite_lag_seconds")).isPositive();
                assertThat(metric(metrics, "backstop_offsite_last_success_timestamp_seconds")).isZero();
                assertThat(metric(metrics, "backstop_offsite_uploaded_bytes_total")).isZero();
                assertThat(metrics).doesNotContain(S3Server.SECRET_KEY, S3Server.ACCESS_KEY);
                assertThat(d.get("/health").statusCode()).as("within max-lag the lag alone is no failure").isEqualTo(200);
            }
            // Again with a max-lag shorter than the wait so far: OFFSITE_STALE, 503.
            env.put("BACKSTOP_OFFSITE_MAX_LAG", "2s");
            try (LiveDaemon d = new LiveDaemon(env)) {
                Fixtures.await("OFFSITE_STALE", Duration.ofSeconds(60),
                        () -> d.get("/health").body().contains("OFFSITE_STALE"));
                assertThat(d.get("/health").statusCode()).isEqualTo(503);

                s3.startProcess();
                Fixtures.await("the copy made once the store is back", Duration.ofSeconds(60),
                        () -> metric(d.get("/metrics").body(), "backstop_offsite_lag_seconds") == 0.0);
                String metrics = d.get("/metrics").body();
                assertThat(metric(metrics, "backstop_offsite_last_success_timestamp_seconds")).isPositive();
                assertThat(metric(metrics, "backstop_offsite_uploaded_bytes_total")).isPositive();
                Fixtures.await("healthy again", Duration.ofSeconds(30), () -> d.get("/health").statusCode() == 200);
                assertThat(d.get("/health").body()).doesNotContain("OFFSITE_STALE");
            }
        }
    }
}
