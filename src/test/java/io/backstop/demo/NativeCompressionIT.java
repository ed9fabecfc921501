package io.backstop.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.backstop.testing.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 17's measurement where this machine's pg_dump (15) cannot go: with a pg_dump of 16 or later,
 * Backstop's default is pg_dump's own zstd. The project's image is built on Debian trixie (its
 * PostgreSQL 17 client and server, its JRE), and bench/compression.sh runs inside it against a
 * cluster of its own: bare pg_dump -Z0, -Z1, gzip 6 and zstd:1 against Backstop's default verified
 * backup through the CLI and the daemon path, then the idle daemon's memory. The figures are
 * printed, not asserted (the machine is shared); the test checks that the run completed and that
 * Backstop took pg_dump's zstd, a plain .dump. Without a Docker engine it reports as skipped.
 */
class NativeCompressionIT {
    private static final Path ROOT = Path.of("").toAbsolutePath();

    private static String docker;

    /** The engine and the trixie images, outside the test's own timeout (minutes on a machine with no image cache). */
    @BeforeAll
    @Timeout(value = 45, unit = TimeUnit.MINUTES)
    static void engineAndImages() throws Exception {
        boolean root = Fixtures.isRoot();
        assumeTrue(root || Files.exists(Path.of("/var/run/docker.sock")),
                "no Docker engine, and no root to start one: the container test cannot run here");
        ComposeStackIT.Run engine = ComposeStackIT.run(ROOT, Map.of(), Duration.ofMinutes(20), "bash",
                "src/test/docker/engine.sh", "trixie");
        assumeTrue(engine.status() != 3 || !root, "no Docker engine could be started: " + engine.out());
        assertThat(engine.status()).as(engine.out()).isZero();
        docker = engine.out().strip().lines().reduce((a, b) -> b).orElseThrow();

        Map<String, String> buildkit = Map.of("DOCKER_BUILDKIT", "1");
        ComposeStackIT.must(ROOT, buildkit, Duration.ofMinutes(30), docker, "build", "-q", "-t", "backstop:e2e-trixie",
                "--build-arg", "BASE=backstop-base:trixie", "--build-arg", "PG_SOURCE=debian",
                "--build-arg", "PG_MAJOR=17", "--build-arg", "JAR_STAGE=prebuilt", ".");
        ComposeStackIT.must(ROOT, buildkit, Duration.ofMinutes(20), docker, "build", "-q", "-t", "backstop-bench:trixie",
                "--build-arg", "IMAGE=backstop:e2e-trixie", "src/test/docker/bench");
    }

    @Test
    @Timeout(value = 20, unit = TimeUnit.MINUTES)
    void withPgDump17TheDefaultIsPgDumpsOwnZstdAndItsFiguresArePrinted() throws Exception {
        // Named, so that a test stopped by its timeout removes the container too, not only the docker client.
        String name = "backstop-bench-" + UUID.randomUUID().toString().substring(0, 8);
        ComposeStackIT.Run bench = ComposeStackIT.runContainer(docker, name, Duration.ofMinutes(30),
                "-v", ROOT.resolve("bench") + ":/project/bench:ro",
                "-v", ROOT.resolve("backstop") + ":/project/backstop:ro",
                "-v", ROOT.resolve("target/backstop.jar") + ":/project/target/backstop.jar:ro",
                "backstop-bench:trixie", "bash", "/project/bench/compression.sh");
        assertThat(bench.status()).as(bench.out()).isZero();
        bench.out().lines().forEach(l -> System.out.println("native zstd (pg_dump 17, in the image): " + l));
        assertThat(bench.out()).contains("pg_dump (PostgreSQL) 17.", "pg_dump -Fc --compress=zstd:1",
                "backstop backup (CLI)", "backstop, daemon path (POST /backup)", "idle daemon 60 s after its backups");
        assertThat(bench.out()).as("Backstop's default with pg_dump 17 is pg_dump's own zstd, a plain .dump")
                .contains("backstop's compression: zstd:1 (pg_dump)");
    }
}
