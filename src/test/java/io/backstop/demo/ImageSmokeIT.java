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
        assertThat(command.get(0)).endsWith("/backstop");

        PgCluster pg = PgCluster.shared();
        String db = pg.createDatabase("image");
        pg.execute(db, "CREATE TABLE t(id int)", "INSERT INTO t VALUES (1)");
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
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
                    () -> !Fixtures.finalDumps(dir.resolve("backups/app/hourly")).isEmpty());
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
    }

    private static List<String> jsonArray(String dockerfile, String instruction) throws Exception {
        Matcher m = Pattern.compile("(?m)^" + instruction + " (\\[.*\\])$").matcher(dockerfile);
        assertThat(m.find()).as(instruction + " in exec form").isTrue();
        List<String> words = new ArrayList<>();
        new ObjectMapper().readTree(m.group(1)).forEach(n -> words.add(n.asText()));
        return words;
    }
}
