package io.backstop.app;

import java.io.InputStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;

/**
 * What one run of Backstop is given from outside: its environment, clock and standard input. Settings
 * are read from these (and the configuration file) only when a command needs them.
 */
public record Invocation(Map<String, String> env, Clock clock, InputStream stdin) {
    public Invocation {
        env = Map.copyOf(env);
    }

    /** {@code BACKSTOP_AGE_IDENTITY_FILE}: the age identity encrypted backups are read with, unless a command gives one. */
    public Optional<Path> identityFile() {
        String identity = env.get("BACKSTOP_AGE_IDENTITY_FILE");
        return identity == null || identity.isBlank() ? Optional.empty() : Optional.of(Path.of(identity));
    }
}
