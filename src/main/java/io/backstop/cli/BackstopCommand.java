package io.backstop.cli;

import io.backstop.Main;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code backstop}: the top-level command; its options apply to every subcommand. */
@Command(name = "backstop", mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "PostgreSQL backup sidecar: verified pg_dump backups, row-count alarms, health and metrics.",
        subcommands = {DaemonCommand.class, DemoCommand.class, BackupCommand.class, ListCommand.class, CheckCommand.class, AckCommand.class,
                PruneCommand.class,
                RestoreCommand.class, VerifyCommand.class, GuardCommand.class},
        footer = {"", "Exit codes:", "%s"})
public final class BackstopCommand {
    @Option(names = {"-c", "--config"}, paramLabel = "FILE",
            description = "Configuration file (default: $BACKSTOP_CONFIG, else config/backstop.conf if present).")
    Path config;

    @Option(names = "--debug", description = "Print stack traces of errors.")
    boolean debug;

    @Option(names = {"-v", "--verbose"}, description = "Log at INFO on the command line (the daemon always does).")
    boolean verbose;

    private final Main main;

    public BackstopCommand(Main main) {
        this.main = main;
    }

    public Main main() {
        main.configFile(Optional.ofNullable(config));
        return main;
    }
}
