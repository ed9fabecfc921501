package io.backstop.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.backstop.testing.Fixtures;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The project's own docker-compose.yml, for real, on a local Docker engine: the images are built
 * here (a debootstrap base, Debian packages, no registry), the stack starts from a fresh copy with
 * a root-owned ./backups, and the volume-wipe incident is replayed end to end: rows, a verified
 * backup, healthy; down -v; up on an empty database; /health 503 with the recreated reason,
 * Docker's unhealthy, Prometheus firing BackstopDataLoss, Alertmanager receiving it and notifying
 * the test's receiver; the pinned backup restored with the documented command inside the
 * container; rows back, alarm cleared, healthy again; the backups survived. Each step prints
 * its time. Without a Docker engine (and no root to start one) it reports as skipped.
 */
class ComposeStackIT {
    private static final Path ROOT = Path.of("").toAbsolutePath();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
    private long stepStart = System.nanoTime();
    private final List<String> timings = new ArrayList<>();

    private void step(String what) {
        long now = System.nanoTime();
        String line = String.format("compose e2e: %-58s %6.1f s", what, (now - stepStart) / 1e9);
        System.out.println(line);
        timings.add(line);
        stepStart = now;
    }

    record Run(int status, String out) {
    }

    static Run run(Path dir, Map<String, String> env, Duration timeout, String... command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().putAll(env);
        Path log = Files.createTempFile("compose-e2e-", ".log");
        pb.redirectOutput(log.toFile());
        Process p = pb.start();
        try {
            if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
                stop(p);
                throw new AssertionError(String.join(" ", command) + " did not finish within " + timeout + ":\n"
                        + Files.readString(log));
            }
            return new Run(p.exitValue(), Files.readString(log));
        } catch (InterruptedException e) {
            stop(p); // the test's own timeout: nothing it started may run on
            throw e;
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /** SIGTERM to the command and everything under it (engine.sh cleans up on it), SIGKILL to what remains. */
    static void stop(Process p) {
        List<ProcessHandle> tree = new ArrayList<>(p.descendants().toList());
        tree.add(p.toHandle());
        tree.forEach(ProcessHandle::destroy);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        for (ProcessHandle h : tree) {
            while (h.isAlive() && System.nanoTime() < deadline) {
                Thread.onSpinWait();
                try {
                    h.onExit().get(100, TimeUnit.MILLISECONDS);
                } catch (Exception ignored) {
                    // checked again in the loop
                }
            }
            h.destroyForcibly();
        }
    }

    /**
     * Cleanup that must run even when the test was interrupted by its timeout: the interrupt is
     * set aside while {@code cleanup} runs and restored afterwards.
     */
    static void uninterrupted(Cleanup cleanup) {
        boolean interrupted = Thread.interrupted();
        try {
            cleanup.run();
        } catch (Exception e) {
            System.out.println("cleanup failed: " + e);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    interface Cleanup {
        void run() throws Exception;
    }

    /**
     * {@code docker run --name NAME ...}: the container is removed afterwards whatever happened, a
     * timeout or the test's own interrupt included (stopping the docker client alone leaves it running).
     */
    static Run runContainer(String docker, String name, Duration timeout, String... runArgs) throws Exception {
        List<String> command = new ArrayList<>(List.of(docker, "run", "--rm", "--name", name));
        command.addAll(List.of(runArgs));
        try {
            return run(ROOT, Map.of(), timeout, command.toArray(String[]::new));
        } finally {
            uninterrupted(() -> run(ROOT, Map.of(), Duration.ofMinutes(2), docker, "rm", "-f", name));
        }
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void aContainerCommandThatTimesOutLeavesNoContainerAndNoProcess() throws Exception {
        String name = "backstop-timeout-" + UUID.randomUUID().toString().substring(0, 8);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> runContainer(docker, name, Duration.ofSeconds(5),
                "backstop-base:bookworm", "sleep", "600")).isInstanceOf(AssertionError.class)
                .hasMessageContaining("did not finish within");
        assertThat(must(ROOT, Map.of(), Duration.ofMinutes(1), docker, "ps", "-aq", "--filter", "name=" + name).out())
                .as("containers named " + name).isBlank();
        assertThat(Fixtures.processesWith(name)).as("processes still naming " + name).isEmpty();
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void aBaseImageBuildStoppedMidwayLeavesNoBuildDirectory() throws Exception {
        // A suite no other test imports, so debootstrap really starts; stopped as a test's timeout stops it.
        Set<Path> before = baseDirs();
        Process engine = new ProcessBuilder("bash", "src/test/docker/engine.sh", "bullseye").directory(ROOT.toFile())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            Fixtures.await("debootstrap writing its tree", Duration.ofMinutes(2), () -> !engine.isAlive()
                    || baseDirs().stream().anyMatch(d -> !before.contains(d) && Files.exists(d.resolve("debootstrap"))));
        } finally {
            stop(engine);
        }
        Fixtures.await("the build directory removed", Duration.ofMinutes(1),
                () -> baseDirs().stream().allMatch(before::contains));
        assertThat(Fixtures.processesWith("debootstrap")).as("debootstrap processes left").isEmpty();
    }

    private static Set<Path> baseDirs() {
        try (var dirs = Files.list(Path.of("/tmp"))) {
            return dirs.filter(d -> d.getFileName().toString().startsWith("backstop-base-"))
                    .collect(java.util.stream.Collectors.toSet());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Copies of the project a killed run left (their test JVM is gone: nothing else makes them). */
    static void sweepCopies() throws IOException {
        try (var dirs = Files.list(Path.of("/tmp"))) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                String n = d.getFileName().toString();
                // Older than any run of this test could be: another test JVM's copy is never taken.
                if (n.startsWith("compose-e2e-") && Files.getLastModifiedTime(d).toInstant()
                        .isBefore(java.time.Instant.now().minus(Duration.ofHours(3)))) {
                    Fixtures.sh("rm", "-rf", d.toString());
                }
            }
        }
    }

    static Run must(Path dir, Map<String, String> env, Duration timeout, String... command) throws Exception {
        Run r = run(dir, env, timeout, command);
        assertThat(r.status()).as(String.join(" ", command) + "\n" + r.out()).isZero();
        return r;
    }

    private String get(String url) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return r.statusCode() + " " + r.body();
        } catch (IOException | InterruptedException e) {
            return "000 " + e;
        }
    }

    private static String docker;

    /**
     * The engine and every image, before the scenario and outside its timeout: on a machine with
     * no image cache (a new developer's, a fresh CI machine) debootstrap and the builds alone take
     * minutes, more under load. Bounded by a limit of its own.
     */
    @BeforeAll
    @Timeout(value = 45, unit = TimeUnit.MINUTES)
    static void engineAndImages() throws Exception {
        boolean root = Fixtures.isRoot();
        assumeTrue(root || Files.exists(Path.of("/var/run/docker.sock")),
                "no Docker engine, and no root to start one: the container test cannot run here");
        sweepCopies();
        long started = System.nanoTime();
        Run engine = run(ROOT, Map.of(), Duration.ofMinutes(20), "bash", "src/test/docker/engine.sh");
        assumeTrue(engine.status() != 3 || !root, "no Docker engine could be started: " + engine.out());
        assertThat(engine.status()).as(engine.out()).isZero();
        docker = engine.out().strip().lines().reduce((a, b) -> b).orElseThrow();
        System.out.printf("compose e2e: engine and base image (debootstrap, cached) %.1f s%n", (System.nanoTime() - started) / 1e9);

        Map<String, String> buildkit = Map.of("DOCKER_BUILDKIT", "1");
        must(ROOT, buildkit, Duration.ofMinutes(30), docker, "build", "-q", "-t", "backstop:e2e",
                "--build-arg", "BASE=backstop-base:bookworm", "--build-arg", "PG_SOURCE=debian",
                "--build-arg", "PG_MAJOR=15", "--build-arg", "JAR_STAGE=prebuilt", ".");
        for (String standIn : List.of("postgres:15", "prometheus", "alertmanager", "grafana", "webhook")) {
            String name = standIn.split(":")[0];
            String tag = standIn.contains(":") ? standIn : standIn + ":latest";
            must(ROOT, buildkit, Duration.ofMinutes(20), docker, "build", "-q", "-t", "backstop-test/" + tag,
                    "src/test/docker/" + name);
        }
        System.out.printf("compose e2e: engine, base image and every image ready in %.1f s%n",
                (System.nanoTime() - started) / 1e9);
    }

    @Test
    @Timeout(value = 20, unit = TimeUnit.MINUTES)
    void theVolumeWipeIncidentIsReplayedEndToEnd() throws Exception {
        String size = must(ROOT, Map.of(), Duration.ofMinutes(1), docker, "image", "inspect", "--format",
                "{{.Size}}", "backstop:e2e").out().strip();
        System.out.printf("compose e2e: image backstop:e2e is %.0f MB%n", Long.parseLong(size) / 1e6);

        // A fresh clone's view: the compose file, its config, and a ./backups that root owns.
        Path project = Files.createTempDirectory(Path.of("/tmp"), "compose-e2e-");
        for (String f : List.of("docker-compose.yml", "config", "src/test/docker")) {
            Files.createDirectories(project.resolve(f).getParent());
            must(ROOT, Map.of(), Duration.ofMinutes(1), "cp", "-a", f, project.resolve(f).toString());
        }
        Files.createDirectories(project.resolve("backups"));
        String name = "backstop-e2e-" + UUID.randomUUID().toString().substring(0, 8);
        List<String> compose = List.of("docker-compose", "-p", name, "-f", "docker-compose.yml", "-f",
                "src/test/docker/compose.test.yml");
        Map<String, String> env = Map.of("DOCKER_HOST", "unix:///var/run/docker.sock");
        try {
            must(project, env, Duration.ofMinutes(5), cat(compose, "up", "-d", "--no-build"));
            String backup = must(project, env, Duration.ofMinutes(1), cat(compose, "ps", "-q", "backup")).out().strip();
            Fixtures.await("the sidecar healthy", Duration.ofMinutes(5), () -> health(docker, backup).equals("healthy"));
            step("up -d to healthy (a fresh ./backups owned by root, no chown by hand)");
            assertThat(Files.getAttribute(project.resolve("backups"), "unix:uid")).as("the entrypoint gave it away")
                    .isEqualTo(10001);

            must(project, env, Duration.ofMinutes(1), cat(compose, "exec", "-T", "db", "psql", "-U", "app", "-d", "app",
                    "-v", "ON_ERROR_STOP=1", "-c", "CREATE TABLE users(id int PRIMARY KEY, email text)",
                    "-c", "INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 1000) g"));
            Run taken = must(project, env, Duration.ofMinutes(5), cat(compose, "exec", "-T", "backup", "backstop", "backup"));
            assertThat(taken.out()).contains("verified", "1,000 rows");
            assertThat(get("http://127.0.0.1:8080/health")).startsWith("200 ");
            step("rows written and a verified backup of them");
            Fixtures.await("a recoverable window (PITR on in the compose file)", Duration.ofMinutes(3), () -> {
                try {
                    return run(project, env, Duration.ofMinutes(1), cat(compose, "exec", "-T", "backup", "backstop",
                            "list")).out().matches("(?s).*app: recoverable to any second: \\d{4}-.* to .*");
                } catch (Exception e) {
                    return false;
                }
            });
            Run doctor = must(project, env, Duration.ofMinutes(1), cat(compose, "exec", "-T", "backup", "backstop", "doctor"));
            assertThat(doctor.out()).contains("ok    pg_hba.conf", "ok    slot cap", "ok    replay binaries")
                    .doesNotContain("FIX");
            step("WAL streamed from the sidecar: a recoverable window, doctor all ok");

            must(project, env, Duration.ofMinutes(5), cat(compose, "down", "-v"));
            long incident = System.nanoTime();
            must(project, env, Duration.ofMinutes(5), cat(compose, "up", "-d", "--no-build"));
            String backup2 = must(project, env, Duration.ofMinutes(1), cat(compose, "ps", "-q", "backup")).out().strip();
            step("down -v and up again: an empty database");
            Fixtures.await("/health 503 with the recreated database", Duration.ofMinutes(3), () -> {
                String h = get("http://127.0.0.1:8080/health");
                return h.startsWith("503 ") && h.contains("DATA_DROP") && h.contains("\"kind\":\"RECREATED\"")
                        && h.contains("cluster system identifier changed");
            });
            step("/health 503 DATA_DROP (recreated database)");
            Fixtures.await("Docker marking the sidecar unhealthy", Duration.ofMinutes(3),
                    () -> health(docker, backup2).equals("unhealthy"));
            step("Docker: unhealthy");
            Fixtures.await("BackstopDataLoss firing in Prometheus", Duration.ofMinutes(3),
                    () -> get("http://127.0.0.1:9090/api/v1/alerts").matches("(?s)200 .*\"alertname\":\"BackstopDataLoss\".*\"state\":\"firing\".*"));
            step("Prometheus: BackstopDataLoss firing");
            Fixtures.await("the alert in Alertmanager", Duration.ofMinutes(3),
                    () -> get("http://127.0.0.1:9093/api/v2/alerts").contains("BackstopDataLoss"));
            System.out.printf("compose e2e: from down -v/up to the alert in Alertmanager: %.1f s%n",
                    (System.nanoTime() - incident) / 1e9);
            step("Alertmanager: BackstopDataLoss received");
            Fixtures.await("the receiver notified", Duration.ofMinutes(3), () -> {
                try {
                    return run(project, env, Duration.ofSeconds(30), cat(compose, "exec", "-T", "webhook", "python3", "-c",
                            "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000').read().decode())"))
                            .out().contains("BackstopDataLoss");
                } catch (Exception e) {
                    return false;
                }
            });
            step("the webhook receiver notified (group_wait 30 s)");

            Run restored = must(project, env, Duration.ofMinutes(5), cat(compose, "exec", "-T", "backup", "backstop",
                    "restore", "pinned", "--into", "app", "--clean", "--yes"));
            assertThat(restored.out()).contains("row counts match the manifest");
            Run count = must(project, env, Duration.ofMinutes(1), cat(compose, "exec", "-T", "db", "psql", "-U", "app",
                    "-d", "app", "-Atc", "SELECT count(*) FROM users"));
            assertThat(count.out().strip()).endsWith("1000");
            must(project, env, Duration.ofMinutes(2), cat(compose, "exec", "-T", "backup", "backstop", "check"));
            Fixtures.await("/health 200 again", Duration.ofMinutes(2), () -> get("http://127.0.0.1:8080/health").startsWith("200 "));
            step("restore pinned inside the container: rows back, alarm cleared, healthy");
            try (var kept = Files.list(project.resolve("backups/app"))) {
                assertThat(kept.map(p -> p.getFileName().toString())).as("the wiped cluster's WAL, set aside")
                        .anyMatch(n -> n.startsWith("wal-")).anyMatch(n -> n.startsWith("base-"));
            }
            assertThat(Fixtures.files(project.resolve("backups/app")).stream()
                    .filter(p -> p.toString().matches(".*\\.dump(\\.zst)?")).count()).as("the backups survived down -v")
                    .isGreaterThanOrEqualTo(2);
        } finally {
            uninterrupted(() -> run(project, env, Duration.ofMinutes(5), cat(compose, "down", "-v", "--remove-orphans")));
            uninterrupted(() -> Fixtures.sh("rm", "-rf", project.toString()));
            timings.forEach(System.out::println);
        }
    }

    private static String health(String docker, String container) {
        try {
            return run(ROOT, Map.of(), Duration.ofSeconds(30), docker, "inspect", "--format", "{{.State.Health.Status}}",
                    container).out().strip();
        } catch (Exception e) {
            return "";
        }
    }

    private static String[] cat(List<String> head, String... tail) {
        List<String> all = new ArrayList<>(head);
        all.addAll(List.of(tail));
        return all.toArray(String[]::new);
    }

}
