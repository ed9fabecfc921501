package io.backstop.cli;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine;

/** Backstop's picocli command line, configured once: what every run of it shares. */
public final class CommandLines {
    private CommandLines() {
    }

    /** Backstop's command line, configured: exit codes, help layout, the guard's argument rule, usage errors. */
    public static CommandLine configured(String[] exitCodes) {
        CommandLine cmd = new CommandLine(new BackstopCommand(null));
        cmd.getCommandSpec().exitCodeOnInvalidInput(io.backstop.ExitCode.USAGE.status());
        cmd.getCommandSpec().usageMessage().footer(exitCodes);
        cmd.getSubcommands().values().forEach(sub -> sub.getCommandSpec().usageMessage().footer(exitCodes));
        // Descriptions are written as source lines; picocli wraps each element by itself, so they are
        // joined into paragraphs (an empty element separates two) and wrapped once, to the terminal's width.
        cmd.getSubcommands().values().forEach(sub -> {
            var usage = sub.getCommandSpec().usageMessage();
            usage.description(paragraphs(usage.description()));
            usage.autoWidth(true);
        });
        // The guard reads what follows its own options as the command, as the user wrote it: `guard psql -c
        // "DROP TABLE t"` must not take psql's -c for --config, nor `docker compose down -v`'s -v for --verbose.
        cmd.getSubcommands().get("guard").setStopAtPositional(true);
        // A usage error says what is wrong, what was meant where it can tell, and where the help is: not 58 lines of it.
        cmd.setParameterExceptionHandler((ex, given) -> {
            PrintWriter e = ex.getCommandLine().getErr();
            e.println("backstop: " + ex.getMessage());
            if (!CommandLine.UnmatchedArgumentException.printSuggestions(ex, e)) {
                suggestOptions(ex.getCommandLine(), given).forEach(e::println);
            }
            e.println("See: " + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help");
            e.flush();
            return io.backstop.ExitCode.USAGE.status();
        });
        return cmd;
    }

    /** "Did you mean --into?" for an option given that the command does not have (picocli reports a missing one first). */
    static List<String> suggestOptions(CommandLine command, String[] given) {
        List<String> names = command.getCommandSpec().options().stream().flatMap(o -> Arrays.stream(o.names()))
                .filter(n -> n.startsWith("--")).toList();
        List<String> out = new java.util.ArrayList<>();
        for (String arg : given) {
            String name = arg.contains("=") ? arg.substring(0, arg.indexOf('=')) : arg;
            if (!name.startsWith("--") || name.length() < 4 || names.contains(name)) {
                continue;
            }
            names.stream().filter(n -> n.startsWith(name) || name.startsWith(n)).findFirst()
                    .ifPresent(n -> out.add("backstop: unknown option " + name + "; did you mean " + n + "?"));
        }
        return out;
    }

    static String[] paragraphs(String[] lines) {
        List<String> out = new java.util.ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : lines) {
            if (line.isBlank()) {
                if (current.length() > 0) {
                    out.add(current.toString());
                    current.setLength(0);
                }
                out.add("");
            } else {
                current.append(current.length() > 0 ? " " : "").append(line.strip());
            }
        }
        if (current.length() > 0) {
            out.add(current.toString());
        }
        return out.toArray(String[]::new);
    }

}
