package io.backstop.cli;

import io.backstop.app.Components;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * {@code --identity FILE}, shared by the commands that read backups: the age identity that decrypts
 * an encrypted one (encryption.local, or an offsite copy), given at that moment and never kept.
 */
final class IdentityOption {
    @Option(names = "--identity", paramLabel = "FILE", description = "age identity file (from age-keygen) that"
            + " decrypts an encrypted backup or offsite copy; default: $BACKSTOP_AGE_IDENTITY_FILE.")
    Path file;

    /** This option, else BACKSTOP_AGE_IDENTITY_FILE; what is found is also what encrypted local backups are read with. */
    Optional<Path> resolve(Components main) {
        return Optional.ofNullable(file).or(() -> main.invocation().identityFile());
    }
}
