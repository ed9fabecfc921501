package io.backstop.cli;

import java.util.Optional;
import picocli.CommandLine.Option;

/** {@code --target T}, shared by every command that acts on one target or all of them. */
final class TargetOption {
    @Option(names = {"-t", "--target"}, paramLabel = "T", description = "Only this target (default: every target).")
    String target;

    Optional<String> name() {
        return Optional.ofNullable(target);
    }
}
