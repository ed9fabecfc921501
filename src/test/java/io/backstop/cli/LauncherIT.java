package io.backstop.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The launcher's class-data archives: one per command Backstop has, never one per first argument. */
class LauncherIT {
    @TempDir
    Path dir;

    @Test
    void firstArgumentsThatAreNoCommandShareOneArchive() throws Exception {
        Path jar = Files.copy(Path.of("target/backstop.jar"), dir.resolve("backstop.jar"));
        for (String first : List.of("--version", "no-such-command", "another-typo", "--help")) {
            ProcessBuilder pb = new ProcessBuilder("./backstop", first).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("out.log").toFile());
            pb.environment().put("BACKSTOP_JAR", jar.toString());
            Process p = pb.start();
            assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
        }
        try (Stream<Path> files = Files.list(dir)) {
            List<String> archives = files.map(f -> f.getFileName().toString()).filter(n -> n.contains(".jsa")).toList();
            assertThat(archives).as("class-data archives beside " + jar).containsExactly("backstop-cli.jsa");
        }
    }
}
