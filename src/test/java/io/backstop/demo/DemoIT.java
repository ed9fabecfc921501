package io.backstop.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.testing.Fixtures;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `./backstop demo` as a newcomer runs it: backups, /health 200, then a DELETE and DATA_DROP. */
class DemoIT {
    private final HttpClient client = HttpClient.newHttpClient();

    @TempDir
    Path dir;

    private HttpResponse<String> health(int port) {
        try {
            return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            return null;
        }
    }

    @Test
    void theDemoBacksUpEveryMinuteAndRaisesTheAlarmAfterADelete() throws Exception {
        int port;
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path log = dir.resolve("demo.log");
        Path backups = dir.resolve("backups");
        Process demo = new ProcessBuilder("./backstop", "demo", "--port", Integer.toString(port), "--backups",
                backups.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            Fixtures.await("the banner", Duration.ofSeconds(60), () -> read(log).contains("Simulate an incident"));
            Matcher psql = Pattern.compile("(?m)^\\s+(\\S+/psql -c \"DELETE FROM users\")$").matcher(read(log));
            assertThat(psql.find()).as(read(log)).isTrue();
            Fixtures.await("a verified backup and /health 200", Duration.ofSeconds(30), () -> {
                HttpResponse<String> h = health(port);
                return h != null && h.statusCode() == 200 && !h.body().contains("\"newest_verified_backup\":null");
            });
            Path runDir = runDir(log);
            Fixtures.await("the first scheduled backup (every minute)", Duration.ofSeconds(75),
                    () -> Fixtures.finalDumps(runDir.resolve("demo/hourly")).size() >= 2);
            // The printed exports point every other command at the demo.
            Process list = new ProcessBuilder("bash", "-c", exports(log) + "; ./backstop list").redirectErrorStream(true).start();
            String listed = new String(list.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(list.waitFor()).as(listed).isZero();
            assertThat(listed).contains("demo", "hourly", "yes");
            assertThat(health(port).statusCode()).isEqualTo(200);

            // psql with the printed exports alone: the password reaches it through PGPASSFILE, never argv.
            ProcessBuilder incidentCommand = new ProcessBuilder("bash", "-c", exports(log) + "; " + psql.group(1))
                    .redirectErrorStream(true);
            incidentCommand.environment().remove("PGPASSWORD");
            Process incident = incidentCommand.start();
            String said = new String(incident.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(incident.waitFor()).as(said).isZero();
            Fixtures.await("DATA_DROP within the 10 s check interval", Duration.ofSeconds(20), () -> {
                HttpResponse<String> h = health(port);
                return h != null && h.statusCode() == 503 && h.body().contains("DATA_DROP");
            });
        } finally {
            demo.destroy(); // SIGTERM, as Ctrl-C would
            assertThat(demo.waitFor(20, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(demo.exitValue()).as(read(log)).isZero();
        assertThat(health(port)).as("the demo stopped serving").isNull();
        Matcher db = Pattern.compile("database\\s+127\\.0\\.0\\.1:(\\d+)/demo").matcher(read(log));
        assertThat(db.find()).isTrue();
        try (var s = new java.net.Socket()) {
            s.connect(new java.net.InetSocketAddress("127.0.0.1", Integer.parseInt(db.group(1))), 500);
            throw new AssertionError("the throwaway PostgreSQL still listens");
        } catch (java.io.IOException expected) {
            // cleaned up
        }
    }

    @Test
    void aSecondRunStartsCleanTakesItsFirstBackupAndRaisesNoFalseAlarm() throws Exception {
        Path backups = dir.resolve("backups");
        for (int run = 1; run <= 2; run++) {
            int port;
            try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            Path log = dir.resolve("run" + run + ".log");
            Process demo = new ProcessBuilder("./backstop", "demo", "--port", Integer.toString(port), "--backups",
                    backups.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try {
                Fixtures.await("the banner", Duration.ofSeconds(60), () -> read(log).contains("Simulate an incident"));
                assertThat(read(log)).contains("target     demo", "the first backup is being taken now");
                Path runDir = runDir(log);
                Fixtures.await("the promised first backup", Duration.ofSeconds(30),
                        () -> !Fixtures.finalDumps(runDir.resolve("demo/hourly")).isEmpty());
                Fixtures.await("a row-count check after it", Duration.ofSeconds(30), () -> metricsShowACheck(port));
                HttpResponse<String> h = health(port);
                assertThat(h.statusCode()).as(h.body()).isEqualTo(200);
                assertThat(h.body()).doesNotContain("DATA_DROP");
            } finally {
                demo.destroy();
                assertThat(demo.waitFor(20, TimeUnit.SECONDS)).isTrue();
            }
        }
    }

    @Test
    void aTakenPortIsSaidBeforeAnythingStartsWithTheFlagThatFixesIt() throws Exception {
        try (var taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Process demo = new ProcessBuilder("./backstop", "demo", "--port", Integer.toString(taken.getLocalPort()),
                    "--backups", dir.resolve("backups").toString()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("taken.log").toFile()).start();
            assertThat(demo.waitFor(60, TimeUnit.SECONDS)).isTrue();
            String out = read(dir.resolve("taken.log"));
            assertThat(demo.exitValue()).as(out).isEqualTo(2);
            assertThat(out).contains("port " + taken.getLocalPort() + " on 127.0.0.1 is in use", "backstop demo --port ")
                    .doesNotContain("starting a throwaway PostgreSQL", "BACKSTOP_HTTP_PORT");
        }
    }

    private boolean metricsShowACheck(int port) {
        try {
            String body = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            return Pattern.compile("backstop_rowcount_last_check_timestamp_seconds\\{target=\"demo\"\\} [1-9]")
                    .matcher(body).find();
        } catch (Exception e) {
            return false;
        }
    }

    private static Path runDir(Path log) {
        Matcher m = Pattern.compile("export BACKSTOP_BACKUP_DIR=(\\S+)").matcher(read(log));
        assertThat(m.find()).as(read(log)).isTrue();
        return Path.of(m.group(1));
    }

    private static String exports(Path log) {
        return read(log).lines().map(String::strip).filter(l -> l.startsWith("export ")).reduce((a, b) -> a + "; " + b)
                .orElseThrow();
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
