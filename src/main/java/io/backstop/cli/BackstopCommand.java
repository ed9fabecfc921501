package io.backstop.cli;

import io.backstop.app.Components;
import io.backstop.app.Invocation;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/** {@code backstop}: the top-level command; its options apply to every subcommand. */
@Command(name = "backstop", mixinStandardHelpOptions = true, scope = ScopeType.INHERIT,
        versionProvider = VersionProvider.class,
        description = "PostgreSQL backup sidecar: verified pg_dump backups, row-count alarms, health and metrics.")
public final class BackstopCommand {
    /**
     * The subcommands, in the order help lists them. Added by {@link CommandLines#configured}: all of them, or
     * only the one a command line runs (picocli reads every option of every command it is given).
     */
    static final List<Class<?>> SUBCOMMANDS = List.of(DaemonCommand.class, DemoCommand.class, BackupCommand.class,
            ListCommand.class, CheckCommand.class, AckCommand.class, PruneCommand.class, OffsiteCommand.class,
            PitrCommand.class, DoctorCommand.class, NotifyCommand.class, RestoreCommand.class, RecoverCommand.class,
            VerifyCommand.class, GuardCommand.class, GuardServerCommand.class, HelpCommand.class);

    // Inherited: accepted before or after the subcommand (backstop list --config F).
    @Option(names = {"-c", "--config"}, paramLabel = "FILE", scope = ScopeType.INHERIT,
            description = "Configuration file (default: $BACKSTOP_CONFIG, else config/backstop.conf if present).")
    Path config;

    @Option(names = "--debug", scope = ScopeType.INHERIT, description = "Print stack traces of errors.")
    boolean debug;

    @Option(names = {"-v", "--verbose"}, scope = ScopeType.INHERIT, description = "Log at INFO on the command line (the daemon always does).")
    boolean verbose;

    private Invocation invocation;
    private Components components;

    /** The invocation of the run about to start (one command line may serve several runs, one at a time). */
    void use(Invocation invocation) {
        this.invocation = invocation;
        this.components = null;
    }

    /** What this run was given: environment, clock, standard input. */
    Invocation invocation() {
        return invocation;
    }

    /** This run's parts, built once from valid settings the first time a command asks. */
    Components components() {
        return components(Optional.empty());
    }

    /** As {@link #components()}, with encrypted local backups read with {@code identity} when one is given. */
    Components components(Optional<Path> identity) {
        if (components == null) {
            components = Components.load(invocation, Optional.ofNullable(config), identity, VersionProvider.version());
        }
        return components;
    }
}
