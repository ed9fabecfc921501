package io.backstop.guard;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Judges a shell command line before it runs: allow, ask (destructive: a person must approve)
 * or block. It reads the line as a shell would (see {@link ShellParser}), looks through
 * wrappers (sudo, env, docker exec, docker compose exec, kubectl exec, sh -c, npx, xargs, ...),
 * judges the SQL that psql would run, and matches the rules of guard-rules.conf plus the
 * operator's own.
 */
public final class Guard {
    private static final int MAX_DEPTH = 5;
    private static final Set<String> SHELLS = Set.of("sh", "bash", "zsh", "dash", "ksh", "ash");
    /** Options of sudo/docker exec/compose exec that take a value (so the value is not the command). */
    private static final Set<String> SUDO_ARGS = Set.of("-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T");
    private static final Set<String> EXEC_ARGS = Set.of("-e", "--env", "-u", "--user", "-w", "--workdir", "--env-file",
            "--index", "--entrypoint", "-l", "--label", "-v", "--volume", "--name", "-p", "--publish", "--detach-keys");
    private static final Set<String> COMPOSE_ARGS = Set.of("-f", "--file", "-p", "--project-name", "--profile",
            "--env-file", "--project-directory", "--ansi", "--progress");

    private final List<Rule> rules;

    public Guard(List<Rule> rules) {
        this.rules = List.copyOf(rules);
    }

    /** The built-in rules plus {@code backstop.guard.rules} from the operator's file, if any. */
    public static Guard withRules(java.util.Optional<Path> operatorFile) {
        List<Rule> all = new ArrayList<>(parse(ConfigFactory.parseResources(Guard.class.getClassLoader(),
                "guard-rules.conf"), "rules", "guard-rules.conf"));
        if (operatorFile.isPresent() && Files.isReadable(operatorFile.get())) {
            Config file = ConfigFactory.parseFile(operatorFile.get().toFile());
            if (file.hasPath("backstop.guard.rules")) {
                all.addAll(parse(file, "backstop.guard.rules", operatorFile.get().toString()));
            }
        }
        return new Guard(all);
    }

    public List<Rule> rules() {
        return rules;
    }

    static List<Rule> parse(Config config, String path, String origin) {
        List<Rule> parsed = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        List<? extends Config> list = config.getConfigList(path);
        for (int n = 0; n < list.size(); n++) {
            Config r = list.get(n);
            String key = path + "[" + n + "]";
            try {
                String decision = r.getString("decision");
                if (!decision.equals("ask") && !decision.equals("block")) {
                    problems.add(key + ".decision: must be ask or block, was \"" + decision + "\"");
                    continue;
                }
                List<String> command = r.getStringList("command");
                if (command.isEmpty()) {
                    problems.add(key + ".command: must name at least the program, e.g. [docker, volume, rm]");
                    continue;
                }
                parsed.add(new Rule(r.getString("name"), Decision.valueOf(decision.toUpperCase(java.util.Locale.ROOT)),
                        command, r.hasPath("any-flag") ? r.getStringList("any-flag") : List.of(),
                        r.hasPath("all-flags") ? r.getStringList("all-flags") : List.of(),
                        r.hasPath("path") ? Pattern.compile(r.getString("path")) : null, r.getString("reason"),
                        r.hasPath("example") ? r.getString("example") : ""));
            } catch (ConfigException | java.util.regex.PatternSyntaxException e) {
                problems.add(key + ": " + e.getMessage() + "; allowed keys: name, decision, command, any-flag,"
                        + " all-flags, path, reason, example");
            }
        }
        if (!problems.isEmpty()) {
            throw new BackstopException(ExitCode.USAGE, "invalid guard rules in " + origin + ":\n  - "
                    + String.join("\n  - ", problems));
        }
        return parsed;
    }

    public Verdict classify(String line) {
        return classify(line, 0);
    }

    private Verdict classify(String line, int depth) {
        if (depth > MAX_DEPTH) {
            return new Verdict(Decision.ASK, "nested too deeply (sh -c inside sh -c ...) to judge", "too-deep", line);
        }
        ShellParser.Parsed parsed = ShellParser.parse(line);
        Verdict verdict = Verdict.ALLOW;
        ShellParser.Command previous = null;
        for (ShellParser.Command c : parsed.commands()) {
            verdict = verdict.worst(judge(c, previous, depth));
            previous = c;
        }
        for (String substitution : parsed.substitutions()) {
            verdict = verdict.worst(classify(substitution, depth + 1));
        }
        return verdict;
    }

    private Verdict judge(ShellParser.Command c, ShellParser.Command previous, int depth) {
        List<String> words = new ArrayList<>(c.words());
        while (true) {
            while (!words.isEmpty() && words.get(0).matches("[A-Za-z_][A-Za-z0-9_]*=.*")) {
                words.remove(0); // FOO=bar cmd
            }
            if (words.isEmpty()) {
                return Verdict.ALLOW;
            }
            String program = base(words.get(0));
            if (SHELLS.contains(program)) {
                int script = words.indexOf("-c");
                if (script < 0) {
                    for (int k = 1; k < words.size(); k++) {
                        if (words.get(k).matches("-[a-z]*c[a-z]*")) {
                            script = k;
                        }
                    }
                }
                if (script >= 0 && script + 1 < words.size()) {
                    return classify(words.get(script + 1), depth + 1);
                }
                return Verdict.ALLOW;
            }
            List<String> inner = unwrap(program, words);
            if (inner == null) {
                break;
            }
            words = new ArrayList<>(inner);
        }
        String program = base(words.get(0));
        if (program.equals("docker-compose")) {
            words.set(0, "compose");
            words.add(0, "docker");
        }
        Verdict verdict = ENGINES.contains(program) ? engine(program, words, c, previous) : Verdict.ALLOW;
        if (onlyPrints(words) || NEVER_RUNS.contains(program)) {
            return verdict; // --help, --dry-run, --pretend, or a program that only reads or prints its arguments
        }
        for (Rule rule : rules) {
            if (rule.matches(words)) {
                verdict = verdict.worst(new Verdict(rule.decision(), rule.reason(), rule.name(), String.join(" ", words)));
            }
        }
        return verdict;
    }

    private static final Set<String> ENGINES = Set.of("psql", "mysql", "mariadb", "sqlite3", "sqlite", "mongosh", "mongo");
    private static final Set<String> ONLY_PRINTS = Set.of("--help", "--dry-run", "--dryrun", "--pretend");
    /** Programs that take other commands' names as words to look up, print or search, never to run. */
    private static final Set<String> NEVER_RUNS = Set.of("which", "whereis", "type", "command", "man", "info", "help",
            "apropos", "whatis", "tldr", "echo", "printf", "grep", "egrep", "fgrep", "rg", "ag", "ack", "cat", "less",
            "more", "head", "tail", "wc", "ls", "stat", "file", "du", "locate", "git", "history");

    private static boolean onlyPrints(List<String> words) {
        return words.stream().anyMatch(ONLY_PRINTS::contains);
    }

    /**
     * Judges a command given as an argument vector ({@code backstop guard -- psql -c "DELETE FROM
     * users"}): the shell has already split and unquoted it, so its words are judged as they are,
     * never joined and split again. A single argument is a whole command line, read as a shell would.
     */
    public Verdict classifyArgv(List<String> argv) {
        if (argv.size() == 1) {
            return classify(argv.get(0));
        }
        return judge(new ShellParser.Command(List.copyOf(argv), List.of(), List.of(), false), null, 0);
    }

    /** The command a wrapper runs, or null when {@code words} is not a wrapper. */
    private static List<String> unwrap(String program, List<String> words) {
        switch (program) {
            case "sudo", "doas" -> {
                return afterOptions(words, 1, SUDO_ARGS);
            }
            case "env" -> {
                List<String> rest = afterOptions(words, 1, Set.of("-u", "--unset", "-C", "--chdir", "-S"));
                return rest;
            }
            case "command" -> {
                boolean lookup = words.size() > 1 && (words.get(1).equals("-v") || words.get(1).equals("-V"));
                return lookup ? null : afterOptions(words, 1, Set.of()); // command -v X only looks X up
            }
            case "nohup", "time", "exec", "builtin", "stdbuf", "caffeinate", "chronic" -> {
                return afterOptions(words, 1, Set.of());
            }
            case "nice", "ionice" -> {
                return afterOptions(words, 1, Set.of("-n", "-c", "--adjustment", "--class"));
            }
            case "timeout" -> {
                List<String> rest = afterOptions(words, 1, Set.of("-s", "--signal", "-k", "--kill-after"));
                return rest.isEmpty() ? rest : rest.subList(1, rest.size());
            }
            case "xargs" -> {
                return afterOptions(words, 1, Set.of("-I", "-n", "-P", "-L", "-d", "-E", "-s", "-a"));
            }
            case "npx", "bunx", "pnpx" -> {
                return afterOptions(words, 1, Set.of("-p", "--package"));
            }
            case "pnpm", "yarn", "npm", "bun", "bundle", "poetry", "uv", "pipenv" -> {
                if (words.size() > 2 && Set.of("exec", "dlx", "x", "run").contains(words.get(1))) {
                    return afterOptions(words, 2, Set.of());
                }
                return program.equals("yarn") && words.size() > 1 ? words.subList(1, words.size()) : null;
            }
            case "docker", "podman" -> {
                if (words.size() > 2 && words.get(1).equals("exec")) {
                    List<String> rest = afterOptions(words, 2, EXEC_ARGS);
                    return rest.isEmpty() ? rest : rest.subList(1, rest.size()); // container name
                }
                if (words.size() > 2 && words.get(1).equals("compose")) {
                    return composeExec(words, 2);
                }
                return null;
            }
            case "docker-compose" -> {
                return composeExec(words, 1);
            }
            case "kubectl", "oc" -> {
                int dashes = words.indexOf("--");
                return words.size() > 1 && words.get(1).equals("exec") && dashes > 0
                        ? words.subList(dashes + 1, words.size()) : null;
            }
            default -> {
                return null;
            }
        }
    }

    /** docker compose [-f x] exec|run [options] SERVICE cmd... → cmd; null for other subcommands. */
    private static List<String> composeExec(List<String> words, int from) {
        List<String> rest = afterOptions(words, from, COMPOSE_ARGS);
        if (rest.isEmpty() || !(rest.get(0).equals("exec") || rest.get(0).equals("run"))) {
            return null;
        }
        List<String> afterSub = afterOptions(rest, 1, EXEC_ARGS);
        return afterSub.isEmpty() ? afterSub : afterSub.subList(1, afterSub.size());
    }

    /** The words after index {@code from} once options (and the values of {@code withValue}) are skipped. */
    private static List<String> afterOptions(List<String> words, int from, Set<String> withValue) {
        int k = from;
        while (k < words.size() && words.get(k).startsWith("-")) {
            String w = words.get(k);
            if (w.equals("--")) {
                k++;
                break;
            }
            k += withValue.contains(w) ? 2 : 1;
        }
        return k >= words.size() ? List.of() : words.subList(k, words.size());
    }

    /** Options of mysql/mariadb that take a separate value (so the value is not the database name). */
    private static final Set<String> MYSQL_ARGS = Set.of("-u", "--user", "-h", "--host", "-P", "--port", "-D",
            "--database", "-S", "--socket", "--protocol", "--default-character-set", "--defaults-file", "-A");
    /** Options of sqlite3 that take a value; -cmd's value is SQL. */
    private static final Set<String> SQLITE_ARGS = Set.of("-init", "-separator", "-newline", "-nullvalue", "-cmd",
            "-maxsize", "-pagecache", "-lookaside", "-mmap", "-vfs");

    /** Database shells: the SQL (or MongoDB script) each would run, judged by reading its statements. */
    private static Verdict engine(String program, List<String> words, ShellParser.Command c,
            ShellParser.Command previous) {
        List<String> scripts = new ArrayList<>();
        List<String> unreadable = new ArrayList<>();
        boolean mongo = false;
        switch (program) {
            case "psql" -> psqlScripts(words, scripts, unreadable);
            case "mysql", "mariadb" -> {
                for (int k = 1; k < words.size(); k++) {
                    String w = words.get(k);
                    if ((w.equals("-e") || w.equals("--execute")) && k + 1 < words.size()) {
                        scripts.add(words.get(++k));
                    } else if (w.startsWith("--execute=")) {
                        scripts.add(w.substring("--execute=".length()));
                    } else if (w.startsWith("-e") && w.length() > 2) {
                        scripts.add(w.substring(2));
                    } else if (MYSQL_ARGS.contains(w)) {
                        k++;
                    }
                }
            }
            case "sqlite3", "sqlite" -> {
                boolean file = false;
                for (int k = 1; k < words.size(); k++) {
                    String w = words.get(k);
                    if (w.equals("-cmd") && k + 1 < words.size()) {
                        scripts.add(words.get(++k));
                    } else if (SQLITE_ARGS.contains(w)) {
                        k++;
                    } else if (w.startsWith("-")) {
                        continue;
                    } else if (!file) {
                        file = true; // the database file; what follows is SQL
                    } else {
                        scripts.add(w);
                    }
                }
            }
            default -> { // mongosh, mongo
                mongo = true;
                for (int k = 1; k < words.size(); k++) {
                    String w = words.get(k);
                    if (w.equals("--eval") && k + 1 < words.size()) {
                        scripts.add(words.get(++k));
                    } else if (w.startsWith("--eval=")) {
                        scripts.add(w.substring("--eval=".length()));
                    } else if (w.endsWith(".js") && !w.startsWith("-")) {
                        read(w, scripts, unreadable);
                    }
                }
            }
        }
        stdinScripts(c, previous, scripts, unreadable);
        for (String script : scripts) {
            var found = mongo ? Mongo.destructive(script) : Sql.destructive(script);
            if (found.isPresent()) {
                return new Verdict(Decision.ASK, program + " would run destructive " + (mongo ? "commands" : "SQL") + ": "
                        + found.get()[1], found.get()[0], found.get()[1]);
            }
        }
        if (!unreadable.isEmpty()) {
            return new Verdict(Decision.ASK, program + " runs " + (mongo ? "a script" : "SQL") + " the guard cannot read"
                    + " to check (" + String.join(", ", unreadable) + ")", "sql-unreadable", String.join(" ", words));
        }
        return Verdict.ALLOW;
    }

    private static void psqlScripts(List<String> words, List<String> scripts, List<String> unreadable) {
        for (int k = 1; k < words.size(); k++) {
            String w = words.get(k);
            if ((w.equals("-c") || w.equals("--command")) && k + 1 < words.size()) {
                scripts.add(words.get(++k));
            } else if (w.startsWith("--command=")) {
                scripts.add(w.substring("--command=".length()));
            } else if (w.startsWith("-c") && w.length() > 2 && !w.startsWith("--")) {
                scripts.add(w.substring(2));
            } else if ((w.equals("-f") || w.equals("--file")) && k + 1 < words.size()) {
                read(words.get(++k), scripts, unreadable);
            } else if (w.startsWith("--file=")) {
                read(w.substring("--file=".length()), scripts, unreadable);
            } else if (w.startsWith("-f") && w.length() > 2 && !w.startsWith("--")) {
                read(w.substring(2), scripts, unreadable);
            }
        }
    }

    /** What reaches the program's stdin: redirected files, here-strings and documents, echo/printf/cat piped in. */
    private static void stdinScripts(ShellParser.Command c, ShellParser.Command previous, List<String> scripts,
            List<String> unreadable) {
        for (String f : c.stdinFiles()) {
            read(f, scripts, unreadable);
        }
        scripts.addAll(c.stdinTexts());
        if (c.pipedFrom() && previous != null && !previous.words().isEmpty()) {
            String feeder = base(previous.words().get(0));
            List<String> args = previous.words().subList(1, previous.words().size());
            if (feeder.equals("echo") || feeder.equals("printf")) {
                scripts.add(String.join(" ", args.stream().filter(a -> !a.matches("-[neE]+")).toList()));
            } else if (feeder.equals("cat")) {
                args.stream().filter(a -> !a.startsWith("-")).forEach(f -> read(f, scripts, unreadable));
            } else {
                unreadable.add("the output of " + feeder);
            }
        }
    }

    private static void read(String file, List<String> scripts, List<String> unreadable) {
        if (file.equals("-")) {
            return; // stdin: judged through the redirect or pipe
        }
        try {
            scripts.add(Files.readString(Path.of(file), StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            unreadable.add(file);
        }
    }

    private static String base(String word) {
        return word.contains("/") ? word.substring(word.lastIndexOf('/') + 1) : word;
    }
}
