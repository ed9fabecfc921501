package io.backstop.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigOrigin;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Configuration problems are records with a key and an origin, reported once per key. */
class ProblemsTest {
    @TempDir
    static Path dir;

    /** Where {@code x} is on line {@code n} of a file named backstop.conf. */
    private static ConfigOrigin line(int n) {
        StringBuilder text = new StringBuilder();
        for (int i = 1; i < n; i++) {
            text.append("# line ").append(i).append('\n');
        }
        text.append("x = 1\n");
        try {
            Path file = Files.writeString(dir.resolve("backstop.conf"), text);
            return ConfigFactory.parseFile(file.toFile()).getValue("x").origin();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void theFirstProblemOfEachKeyIsKeptInTheOrderFound() {
        Problems problems = new Problems();
        problems.add("backstop.http.port", "must be a whole number from 0 to 65535, was \"x\"", line(3));
        problems.add("backstop.schedule", "must be a Quartz cron expression");
        problems.add("backstop.http.port", "expected NUMBER, got STRING", line(3));
        assertThat(problems.distinct()).extracting(Problem::key)
                .containsExactly("backstop.http.port", "backstop.schedule");
        assertThat(problems.distinct().get(0).message()).startsWith("must be a whole number");
    }

    @Test
    void theErrorCountsTheProblemsAndGivesEachItsLine() {
        Problems problems = new Problems();
        problems.add("backstop.targets", "must name at least one database to back up");
        problems.add("a.b", "unknown top-level key", line(2));
        BackstopException e = problems.error();
        assertThat(e.code()).isEqualTo(ExitCode.USAGE);
        assertThat(e.getMessage()).isEqualTo("invalid configuration (2 problems):\n"
                + "  - backstop.targets: must name at least one database to back up\n"
                + "  - a.b: unknown top-level key (" + dir.resolve("backstop.conf") + ": line 2)");
    }

    @Test
    void aValueFromTheEnvironmentNamesItsVariable() {
        ConfigOrigin env = com.typesafe.config.ConfigValueFactory.fromAnyRef("x", "env var BACKSTOP_HTTP_PORT").origin();
        assertThat(Problem.of("backstop.http.port", "must be a number", env).line())
                .isEqualTo("backstop.http.port: must be a number (from environment variable BACKSTOP_HTTP_PORT)");
        assertThat(Problem.of("k", "m", null).line()).isEqualTo("k: m");
    }
}
