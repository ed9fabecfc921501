package io.backstop.cli;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.app.Invocation;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Backstop's picocli command line, configured once: what every run of it shares. */
public final class CommandLines {
    private CommandLines() {
    }

    /** Runs one command line and returns its exit status; never calls System.exit. */
    public static int run(String[] args, PrintWriter out, PrintWriter err, Invocation invocation) {
        return run(configured(commandOf(args)), args, out, err, invocation);
    }

    /**
     * Runs {@code args} on a command line built by {@link #configured} (one may serve many runs, one at a time:
     * picocli resets every option before it parses), with this run's own invocation and components.
     */
    public static int run(CommandLine cmd, String[] args, PrintWriter out, PrintWriter err, Invocation invocation) {
        ((BackstopCommand) cmd.getCommand()).use(invocation);
        cmd.setOut(out);
        cmd.setErr(err);
        boolean debug = Arrays.asList(args).contains("--debug");
        cmd.setExecutionExceptionHandler((e, commandLine, parseResult) -> report(e, commandLine.getErr(), debug));
        return cmd.execute(args);
    }

    /** The subcommand's name: the first argument that is neither an option nor an option's value. */
    public static String commandOf(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-c") || a.equals("--config")) {
                i++;
            } else if (!a.startsWith("-")) {
                return a;
            }
        }
        return "";
    }

    /** Prints an error the way an operator reads it: the message, then causes that add something. */
    static int report(Exception e, PrintWriter err, boolean debug) {
        if (e instanceof BackstopException be) {
            err.println("backstop: error: " + be.getMessage());
            printCauses(be, err);
            if (debug) {
                be.printStackTrace(err);
            }
            err.flush();
            return be.code().status();
        }
        err.println("backstop: internal error: " + e);
        if (debug) {
            e.printStackTrace(err);
        } else {
            err.println("  (run again with --debug for the stack trace, and report it)");
        }
        err.flush();
        return ExitCode.INTERNAL.status();
    }

    private static void printCauses(Throwable e, PrintWriter err) {
        String seen = String.valueOf(e.getMessage());
        for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
            String m = c.getMessage();
            if (m != null && !seen.contains(m)) {
                err.println("  caused by: " + m);
                seen += m;
            }
        }
    }

    /** The exit codes, as every command's help ends. */
    static String[] exitCodeTable() {
        List<String> lines = new ArrayList<>();
        lines.add("");
        lines.add("Exit codes:");
        for (ExitCode code : ExitCode.values()) {
            lines.add(String.format("  %3d  %s", code.status(), code.meaning()));
        }
        return lines.toArray(String[]::new);
    }

    /** Backstop's command line, configured: exit codes, help layout, the guard's argument rule, usage errors. */
    public static CommandLine configured() {
        return configured("");
    }

    /**
     * As {@link #configured()}, with only the subcommand named {@code command} where there is one of that name
     * (a one-shot command's JVM then reads the options of one command, not of seventeen: 0.06 s less), every
     * subcommand otherwise (help lists them, a misspelled name is answered with the names it resembles).
     */
    static CommandLine configured(String command) {
        String[] exitCodes = exitCodeTable();
        CommandLine cmd = new CommandLine(new BackstopCommand());
        List<Class<?>> only = command.equals("help") ? List.of() : BackstopCommand.SUBCOMMANDS.stream()
                .filter(c -> c.getAnnotation(Command.class).name().equals(command)).toList();
        for (Class<?> sub : only.isEmpty() ? BackstopCommand.SUBCOMMANDS : only) {
            cmd.addSubcommand(sub); // picocli makes one with its factory
        }
        cmd.getCommandSpec().exitCodeOnInvalidInput(ExitCode.USAGE.status());
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
        if (cmd.getSubcommands().containsKey("guard")) {
            cmd.getSubcommands().get("guard").setStopAtPositional(true);
        }
        // A usage error says what is wrong, what was meant where it can tell, and where the help is: not 58 lines of it.
        cmd.setParameterExceptionHandler((ex, given) -> {
            PrintWriter e = ex.getCommandLine().getErr();
            e.println("backstop: " + ex.getMessage());
            if (!CommandLine.UnmatchedArgumentException.printSuggestions(ex, e)) {
                suggestOptions(ex.getCommandLine(), given).forEach(e::println);
            }
            e.println("See: " + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help");
            e.flush();
            return ExitCode.USAGE.status();
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
