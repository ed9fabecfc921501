package io.backstop.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.backstop.testing.Fixtures;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.testcontainers.containers.Container;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.utility.DockerImageName;
import org.testcontainers.utility.MountableFile;

/**
 * The version matrix: for every PostgreSQL major Debian's suites provide (bullseye 13, bookworm 15,
 * trixie 17), the project's image built from that suite's own packages runs a server of that major and
 * Backstop against it: backup, verify, restore into a new database, restore onto an empty server with
 * its roles, the data-loss alarm and recover, and a point-in-time data directory (WAL streamed by the
 * daemon, {@code restore --at --physical}) started with that major's server (src/test/docker/matrix/run.sh). Each container is driven
 * by Testcontainers from an image built here (no registry). The table lands in target/version-matrix.md.
 */
class VersionMatrixIT {
    private static final Path ROOT = Path.of("").toAbsolutePath();
    private static final Map<String, List<String[]>> RESULTS = new ConcurrentHashMap<>();
    private static String docker;

    @BeforeAll
    @Timeout(value = 60, unit = TimeUnit.MINUTES)
    static void engineAndImages() throws Exception {
        boolean root = Fixtures.isRoot();
        assumeTrue(root || Files.exists(Path.of("/var/run/docker.sock")),
                "no Docker engine, and no root to start one: the version matrix cannot run here");
        ComposeStackIT.Run engine = ComposeStackIT.run(ROOT, Map.of(), Duration.ofMinutes(30), "bash",
                "src/test/docker/engine.sh", "bullseye", "bookworm", "trixie");
        assumeTrue(engine.status() != 3 || !root, "no Docker engine could be started: " + engine.out());
        assertThat(engine.status()).as(engine.out()).isZero();
        docker = engine.out().strip().lines().reduce((a, b) -> b).orElseThrow();
    }

    private static String image(String suite, String major) throws Exception {
        String tag = "backstop:matrix-" + suite;
        ComposeStackIT.must(ROOT, Map.of("DOCKER_BUILDKIT", "1"), Duration.ofMinutes(30), docker, "build", "-q", "-t", tag,
                "--build-arg", "BASE=backstop-base:" + suite, "--build-arg", "PG_SOURCE=debian",
                "--build-arg", "PG_MAJOR=" + major, "--build-arg", "JAR_STAGE=prebuilt", ".");
        return tag;
    }

    @ParameterizedTest(name = "PostgreSQL {1} ({0})")
    @CsvSource({"bullseye, 13", "bookworm, 15", "trixie, 17"})
    @Timeout(value = 40, unit = TimeUnit.MINUTES)
    void everyOperationWorksAgainstThisMajor(String suite, String major) throws Exception {
        String tag = image(suite, major);
        try (GenericContainer<?> box = new GenericContainer<>(DockerImageName.parse(tag))
                .withCreateContainerCmdModifier(cmd -> cmd.withEntrypoint("sleep", "infinity").withUser("root"))
                .withCopyFileToContainer(MountableFile.forHostPath(ROOT.resolve("src/test/docker/matrix/run.sh"), 0755),
                        "/matrix/run.sh")) {
            box.start();
            Container.ExecResult r = box.execInContainer("bash", "/matrix/run.sh");
            List<String[]> rows = new ArrayList<>();
            for (String line : r.getStdout().lines().filter(l -> l.startsWith("MATRIX ")).toList()) {
                System.out.println("version matrix, PostgreSQL " + major + ": " + line.substring("MATRIX ".length()));
                rows.add(line.substring("MATRIX ".length()).split(" ", 4));
            }
            RESULTS.put(major + " (" + suite + ")", rows);
            String all = r.getStdout() + r.getStderr();
            assertThat(rows).as(all).extracting(x -> x[0]).containsExactly("server", "backup", "verify", "restore-into",
                    "data-loss-alarm", "recover", "restore-at-physical", "restore-empty-server-with-roles");
            assertThat(rows).as(all).allSatisfy(x -> assertThat(x[1]).as(String.join(" ", x)).isEqualTo("PASS"));
            assertThat(rows.get(0)[3]).as("the server and client of this major").contains("PostgreSQL " + major + ".")
                    .contains("pg_dump (PostgreSQL) " + major + ".");
            assertThat(r.getExitCode()).as(all).isZero();
        }
    }

    @AfterAll
    static void table() throws Exception {
        if (RESULTS.isEmpty()) {
            return;
        }
        List<String> ops = List.of("backup", "verify", "restore-into", "restore-empty-server-with-roles", "data-loss-alarm",
                "recover", "restore-at-physical");
        StringBuilder md = new StringBuilder("| PostgreSQL | " + String.join(" | ", ops) + " |\n|---|");
        ops.forEach(o -> md.append("---|"));
        md.append('\n');
        for (var e : new java.util.TreeMap<>(RESULTS).entrySet()) {
            md.append("| ").append(e.getKey()).append(" |");
            for (String op : ops) {
                String cell = e.getValue().stream().filter(x -> x[0].equals(op)).findFirst()
                        .map(x -> x[1].toLowerCase(java.util.Locale.ROOT) + " " + x[2] + " s").orElse("not run");
                md.append(' ').append(cell).append(" |");
            }
            md.append('\n');
        }
        Files.createDirectories(ROOT.resolve("target"));
        Files.writeString(ROOT.resolve("target/version-matrix.md"), md.toString());
        md.toString().lines().forEach(l -> System.out.println("version matrix: " + l));
    }
}
