package io.backstop.demo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Without Docker: runs the image's own ENTRYPOINT + CMD and HEALTHCHECK command, read from the
 * Dockerfile (not copied), against the local build and a throwaway server; the healthcheck must pass.
 */
class ImageSmokeIT {
    @TempDir
    Path dir;

    @Test
    void theImagesEntrypointAndHealthcheckWorkAgainstALocalBuild() throws Exception {
        String dockerfile = Files.readString(Path.of("Dockerfile"));
        List<String> entrypoint = jsonArray(dockerfile, "ENTRYPOINT");
        List<String> cmd = jsonArray(dockerfile, "CMD");
        Matcher health = Pattern.compile("(?s)HEALTHCHECK[^\\n]*\\\\\\n\\s*CMD (.+?)\\n(?=\\S|$)").matcher(dockerfile);
        assertThat(health.find()).as("a HEALTHCHECK ... CMD in the Dockerfile").isTrue();
        // Where the image puts each file of the checkout: COPY <source> <destination>.
        Map<String, String> copies = new HashMap<>();
        Matcher copy = Pattern.compile("(?m)^COPY (?!--)(\\S+) (\\S+)$").matcher(dockerfile);
        while (copy.find()) {
            copies.put(copy.group(2), copy.group(1));
        }
        List<String> command = new ArrayList<>();
        for (String word : entrypoint) {
            command.add(copies.containsKey(word) ? Path.of(copies.get(word)).toAbsolutePath().toString() : word);
        }
        command.addAll(cmd);
        assertThat(command.get(0)).endsWith("/docker-entrypoint.sh");

        PgCluster pg = PgCluster.shared();
        String db = pg.createDatabase("image");
        pg.execute(db, "CREATE TABLE t(id int)", "INSERT INTO t VALUES (1)");
        // As root the entrypoint gives the backup directory to its user and drops to it: here, postgres
        // (the image's own backstop user exists only in the image), in a directory it can reach.
        Path reachable = Files.createTempDirectory(Path.of("/tmp"), "image-smoke-");
        reachable.toFile().setExecutable(true, false);
        reachable.toFile().setReadable(true, false);
        Path backups = reachable.resolve("backups");
        Map<String, String> env = Cli.env(pg, db, backups);
        if (Fixtures.isRoot()) {
            env.put("BACKSTOP_RUN_AS", "postgres");
            env.put("BACKSTOP_CONFIG", "/dev/null"); // the tests' empty config file is root's own (0600)
        }
        int port;
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        env.put("BACKSTOP_HTTP_PORT", Integer.toString(port));
        ProcessBuilder daemon = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("daemon.log").toFile());
        daemon.environment().keySet().removeIf(k -> k.startsWith("PG") || k.startsWith("BACKSTOP_"));
        daemon.environment().putAll(env);
        Process p = daemon.start();
        try {
            Fixtures.await("the daemon's first backup", Duration.ofSeconds(60),
                    () -> !Fixtures.finalDumps(backups.resolve("app/hourly")).isEmpty() || !p.isAlive());
            assertThat(p.isAlive()).as(Files.readString(dir.resolve("daemon.log"))).isTrue();
            if (Fixtures.isRoot()) {
                assertThat(Files.getOwner(backups).getName()).as("the work runs as the unprivileged user").isEqualTo("postgres");
            }
            ProcessBuilder check = new ProcessBuilder("sh", "-c", health.group(1).strip()).redirectErrorStream(true);
            check.environment().putAll(env);
            Fixtures.await("the HEALTHCHECK command to pass", Duration.ofSeconds(20), () -> {
                try {
                    return check.start().waitFor() == 0;
                } catch (Exception e) {
                    return false;
                }
            });
        } finally {
            p.destroy();
            assertThat(p.waitFor(15, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(p.exitValue()).as(Files.readString(dir.resolve("daemon.log"))).isZero();
        Fixtures.sh("rm", "-rf", reachable.toString());
    }

    private static List<String> jsonArray(String dockerfile, String instruction) throws Exception {
        Matcher m = Pattern.compile("(?m)^" + instruction + " (\\[.*\\])$").matcher(dockerfile);
        assertThat(m.find()).as(instruction + " in exec form").isTrue();
        List<String> words = new ArrayList<>();
        new ObjectMapper().readTree(m.group(1)).forEach(n -> words.add(n.asText()));
        return words;
    }
}
