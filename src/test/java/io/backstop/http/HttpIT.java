package io.backstop.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** /health, /metrics and POST /backup of a running daemon against a real server. */
class HttpIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    private Map<String, String> env(String db) {
        return LiveDaemon.env(pg, db, dir.resolve("backups"));
    }

    @Test
    void healthTurns503WhenTheBackupAgesPastStaleAfterAndBackTo200AfterTheNextSuccess() {
        String db = pg.createDatabase("health");
        pg.execute(db, "CREATE TABLE t(id int)", "INSERT INTO t VALUES (1)");
        Map<String, String> env = env(db);
        env.put("BACKSTOP_SCHEDULE", "0/10 * * * * ?");
        env.put("BACKSTOP_STALE_AFTER", "4s");
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("the start-up backup", Duration.ofSeconds(20), () -> backedUp(d));
            assertThat(d.get("/health").body()).contains("\"status\":\"ok\"", "\"target\":\"app\"");
            Fixtures.await("STALE", Duration.ofSeconds(15), () -> d.get("/health").statusCode() == 503);
            assertThat(d.get("/health").body()).contains("STALE");
            Fixtures.await("the next scheduled success", Duration.ofSeconds(15), () -> d.get("/health").statusCode() == 200);
        }
    }

    @Test
    void noBackupAfterTheGraceAndDataDropAre503WithTheirReason() {
        String db = pg.createDatabase("reasons");
        pg.execute(db, "CREATE TABLE t(id int)", "INSERT INTO t SELECT generate_series(1, 100)");
        Map<String, String> env = env(db);
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_STARTUP_GRACE", "0s");
        env.put("PGDATABASE", "no_such_db");
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("NO_BACKUP", Duration.ofSeconds(10), () -> d.get("/health").body().contains("NO_BACKUP"));
            assertThat(d.get("/health").statusCode()).isEqualTo(503);
            Fixtures.await("FAILING", Duration.ofSeconds(10), () -> d.get("/health").body().contains("FAILING"));
            assertThat(d.get("/health").body()).contains("does not exist");
        }
        env.put("PGDATABASE", db);
        env.put("BACKSTOP_CHECK_INTERVAL", "1s");
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("a backup", Duration.ofSeconds(20), () -> backedUp(d));
            pg.execute(db, "DELETE FROM t");
            Fixtures.await("DATA_DROP", Duration.ofSeconds(10), () -> d.get("/health").body().contains("DATA_DROP"));
            assertThat(d.get("/health").statusCode()).isEqualTo(503);
            assertThat(d.get("/health").body()).contains("EMPTIED", "public.t");
        }
    }

    /** Far below a dump's or a connect timeout's seconds, far above any scheduling hiccup of a loaded machine. */
    private static final long NEVER_BLOCKED_MICROS = 2_000_000;

    @Test
    void healthAnswersWithoutWaitingWhileADumpRunsAndWhileTheDatabaseIsDown() throws Exception {
        String db = Fixtures.bigDatabase(pg);
        Map<String, String> env = env(db);
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_PG_DUMP_COMPRESS", "9");
        env.put("BACKSTOP_HTTP_TOKEN", "s3cret-token");
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("a dump in progress", Duration.ofSeconds(30), () -> !Fixtures.temporaries(dir.resolve("backups"))
                    .isEmpty());
            String pageDuringDump = d.get("/").body();
            List<Long> micros = new ArrayList<>();
            List<Long> page = new ArrayList<>();
            for (int i = 0; i < 25; i++) { // the status page beside /health, both while the same dump runs
                micros.addAll(latencies(d, 3));
                page.addAll(latencies(d, 1, "/"));
            }
            assertThat(Fixtures.temporaries(dir.resolve("backups"))).as("still dumping while measured").isNotEmpty();
            // Answered from memory, never waiting for the dump; how fast is bench/http.sh's to measure, not a gate.
            assertThat(java.util.Collections.max(micros)).as("slowest /health in µs during a dump: " + micros)
                    .isLessThan(NEVER_BLOCKED_MICROS);
            assertThat(java.util.Collections.max(page)).as("slowest status page in µs during a dump: " + page)
                    .isLessThan(NEVER_BLOCKED_MICROS);
            assertThat(pageDuringDump).contains("a backup is running");
            System.out.printf("/health during a dump: p99 %d µs (bench/http.sh measures it)%n", percentile(micros, 99));
        }
        PgCluster down = PgCluster.start();
        try {
            Map<String, String> downEnv = env("postgres");
            downEnv.put("PGPORT", Integer.toString(down.port()));
            downEnv.put("PGPASSWORD", down.password());
            downEnv.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
            down.stopServer();
            try (LiveDaemon d = new LiveDaemon(downEnv)) {
                List<Long> micros = latencies(d, 100);
                assertThat(java.util.Collections.max(micros)).as("slowest /health in µs with the database down: " + micros)
                        .isLessThan(NEVER_BLOCKED_MICROS);
            }
        } finally {
            down.close();
        }
    }

    @Test
    void postBackupNeedsTheTokenAndNothingElseIsServed() {
        String db = pg.createDatabase("token");
        pg.execute(db, "CREATE TABLE t(id int)", "INSERT INTO t VALUES (1)");
        Map<String, String> env = env(db);
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        try (LiveDaemon d = new LiveDaemon(env)) {
            HttpResponse<String> off = d.send(post(d, "/backup?target=app", "anything"));
            assertThat(off.statusCode()).isEqualTo(403);
            assertThat(off.body()).contains("POST /backup is off");
            assertThat(d.get("/nope").statusCode()).isEqualTo(404);
            HttpResponse<String> page = d.get("/");
            assertThat(page.statusCode()).as("the status page").isEqualTo(200);
            assertThat(page.headers().firstValue("Content-Type")).contains("text/html; charset=utf-8");
            assertThat(page.headers().firstValue("Content-Security-Policy").orElseThrow()).startsWith("default-src 'none'");
            assertThat(page.body()).contains("<section class=\"target\" id=\"target-app\">").doesNotContain("<script");
            assertThat(d.send(post(d, "/", "anything")).statusCode()).isEqualTo(405);
            assertThat(d.get("/backup").statusCode()).isEqualTo(405);
            assertThat(d.send(HttpRequest.newBuilder(d.uri("/health")).DELETE().build()).statusCode()).isEqualTo(405);
            assertThat(d.send(HttpRequest.newBuilder(d.uri("/metrics")).POST(HttpRequest.BodyPublishers.noBody())
                    .build()).headers().firstValue("Allow")).contains("GET, HEAD");
        }
        env.put("BACKSTOP_HTTP_TOKEN", "s3cret-token");
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("the start-up backup", Duration.ofSeconds(20), () -> backedUp(d));
            int before = Fixtures.finalDumps(dir.resolve("backups/app/manual")).size();
            HttpResponse<String> wrong = d.send(post(d, "/backup?target=app", "s3cret-tokeX"));
            assertThat(wrong.statusCode()).isEqualTo(401);
            assertThat(wrong.headers().firstValue("WWW-Authenticate")).contains("Bearer realm=\"backstop\"");
            assertThat(d.send(HttpRequest.newBuilder(d.uri("/backup")).POST(HttpRequest.BodyPublishers.noBody()).build())
                    .statusCode()).isEqualTo(401);
            assertThat(Fixtures.finalDumps(dir.resolve("backups/app/manual"))).as("nothing ran").hasSize(before);
            assertThat(d.send(post(d, "/backup?target=nope", "s3cret-token")).statusCode()).isEqualTo(400);

            // The scheme is case-insensitive (RFC 9110); the token is exactly the token.
            for (String header : List.of("Bearer s3cret-token x", "Bearer  s3cret-tokeN",
                    "Basic s3cret-token", "s3cret-token")) {
                assertThat(d.send(HttpRequest.newBuilder(d.uri("/backup?target=app&label=x")).header("Authorization", header)
                        .POST(HttpRequest.BodyPublishers.noBody()).build()).statusCode()).as("\"" + header + "\"")
                        .isEqualTo(401);
            }
            HttpResponse<String> lower = d.send(HttpRequest.newBuilder(d.uri("/backup?target=app&label=lowercase"))
                    .header("Authorization", "bearer s3cret-token").POST(HttpRequest.BodyPublishers.noBody()).build());
            assertThat(lower.statusCode()).as(lower.body()).isEqualTo(200);
            HttpResponse<String> ok = d.send(post(d, "/backup?target=app&label=pre-migration", "s3cret-token"));
            assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
            assertThat(ok.body()).contains("\"file\":\"app/manual/app-", "-pre-migration.dump", "\"sha256\"");
            assertThat(d.get("/metrics").body()).doesNotContain("s3cret-token");
        }
    }

    static boolean backedUp(LiveDaemon d) {
        HttpResponse<String> r = d.get("/health");
        return r.statusCode() == 200 && !r.body().contains("\"newest_verified_backup\":null");
    }

    private static HttpRequest post(LiveDaemon d, String path, String token) {
        return HttpRequest.newBuilder(d.uri(path)).header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.noBody()).build();
    }

    static List<Long> latencies(LiveDaemon d, int n) throws Exception {
        return latencies(d, n, "/health");
    }

    static List<Long> latencies(LiveDaemon d, int n, String path) throws Exception {
        List<Long> micros = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            HttpResponse<String> r = d.get(path);
            micros.add((System.nanoTime() - t0) / 1000);
            assertThat(r.statusCode()).isIn(200, 503);
        }
        return micros;
    }

    static long percentile(List<Long> values, int p) {
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
    }

}
