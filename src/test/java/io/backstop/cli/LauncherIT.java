package io.backstop.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.testing.Fixtures;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's class-data archives: one per command Backstop has, never one per first argument, dumped after
 * a command's first run and then mapped by the next, with picocli's classes in it.
 */
class LauncherIT {
    private static final Duration DUMPED = Duration.ofMinutes(2);

    @TempDir
    Path dir;

    @Test
    void firstArgumentsThatAreNoCommandShareOneArchive() throws Exception {
        Path jar = Files.copy(Path.of("target/backstop.jar"), dir.resolve("backstop.jar"));
        for (String first : List.of("--version", "no-such-command", "another-typo", "--help")) {
            assertThat(run(jar, List.of(first)).waitFor(2, TimeUnit.MINUTES)).isTrue();
        }
        // Dumped in the background: every list and temporary gone, the one archive in place.
        Fixtures.await("the class-data archive dumped", DUMPED, () -> names().equals(List.of("backstop-cli.jsa")));
        assertThat(names()).as("class-data archives beside " + jar).containsExactly("backstop-cli.jsa");
    }

    @Test
    void aCommandsSecondRunMapsItsArchiveWithPicocliInIt() throws Exception {
        Path jar = Files.copy(Path.of("target/backstop.jar"), dir.resolve("backstop.jar"));
        assertThat(run(jar, List.of("restore", "--help")).waitFor(2, TimeUnit.MINUTES)).isTrue();
        Fixtures.await("the class-data archive dumped", DUMPED, () -> names().equals(List.of("backstop-restore.jsa")));
        // What the next run loads, and from where: the archive's classes say "shared objects file".
        Path log = dir.resolve("classes.log");
        Process second = run(jar, List.of("restore", "--help"), "-Xlog:class+load:file=" + log);
        assertThat(second.waitFor(2, TimeUnit.MINUTES)).isTrue();
        assertThat(second.exitValue()).isZero();
        List<String> picocli = Files.readAllLines(log).stream().filter(l -> l.contains(" picocli.CommandLine ")).toList();
        assertThat(picocli).hasSize(1);
        assertThat(picocli.get(0)).contains("shared objects file");
    }

    /** {@code ./backstop ARGS} with {@code jar}; {@code logOption} added to the launcher's own JVM flags when given. */
    private Process run(Path jar, List<String> args, String... logOption) throws IOException {
        List<String> command = new java.util.ArrayList<>(List.of("./backstop"));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("out.log").toFile());
        pb.environment().put("BACKSTOP_JAR", jar.toString());
        if (logOption.length > 0) {
            pb.environment().put("JDK_JAVA_OPTIONS", String.join(" ", logOption));
        }
        return pb.start();
    }

    /** The class-data files beside the jar: archives, and lists and archives still being written. */
    private List<String> names() {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).filter(n -> n.contains(".jsa")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
