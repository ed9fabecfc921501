package io.backstop.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/** A configuration file a test writes into {@code dir}, read as Backstop reads one. */
final class ConfFiles {
    private ConfFiles() {
    }

    static Settings load(Path dir, String conf, Map<String, String> env) throws IOException {
        Path file = dir.resolve("backstop.conf");
        Files.writeString(file, conf);
        return new SettingsLoader(env).load(Optional.of(file));
    }

    /** The message a rejected configuration gets (exit code 2, asserted). */
    static String failure(Path dir, String conf) {
        BackstopException e = catchThrowableOfType(BackstopException.class, () -> load(dir, conf, Map.of()));
        assertThat(e).as("rejected:\n" + conf).isNotNull();
        assertThat(e.code()).isEqualTo(ExitCode.USAGE);
        return e.getMessage();
    }
}
