package io.backstop.http;

import io.backstop.testing.Tools;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The shell scripts and YAML files that ship, checked by shellcheck and yamllint (installed by .ci/run). */
class LintTest {
    private static String run(List<String> command) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            throw new AssertionError(command.get(0) + " is not installed (.ci/run installs it)", e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(String.join(" ", command) + "\n" + out).isZero();
        return out;
    }

    @Test
    void shellScriptsPassShellcheck() throws Exception {
        List<String> command = new ArrayList<>(List.of(Tools.require("shellcheck", "shellcheck"), "-x", "backstop", "test", ".ci/run",
                ".ci/install-packages", "docker-entrypoint.sh", "src/test/docker/engine.sh"));
        try (Stream<Path> bench = Files.list(Path.of("bench"))) {
            bench.filter(p -> p.toString().endsWith(".sh")).sorted().forEach(p -> command.add(p.toString()));
        }
        assertThat(command).hasSizeGreaterThan(8);
        run(command);
    }

    @Test
    void yamlFilesPassYamllint() throws Exception {
        run(List.of(Tools.require("yamllint", "yamllint"), "--strict", "config", ".pre-commit-hooks.yaml"));
    }
}
