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

    private final List<Rule> rules;
    private final Path dir;

    public Guard(List<Rule> rules) {
        this(rules, Path.of("").toAbsolutePath());
    }

    private Guard(List<Rule> rules, Path dir) {
        this.rules = List.copyOf(rules);
        this.dir = dir;
    }

    /** The built-in rules plus {@code backstop.guard.rules} from the operator's file, if any. */
    public static Guard withRules(java.util.Optional<Path> operatorFile) {
        List<Rule> all = new ArrayList<>(builtIn());
        if (operatorFile.isPresent() && Files.isReadable(operatorFile.get())) {
            Config file = ConfigFactory.parseFile(operatorFile.get().toFile());
            if (file.hasPath("backstop.guard.rules")) {
                all.addAll(parse(file, "backstop.guard.rules", operatorFile.get().toString()));
            }
        }
        return new Guard(all);
    }

    private static volatile List<Rule> builtIn;

    /** guard-rules.conf, parsed once a process (a guard server answers many calls). */
    private static List<Rule> builtIn() {
        List<Rule> rules = builtIn;
        if (rules == null) {
            rules = List.copyOf(parse(ConfigFactory.parseResources(Guard.class.getClassLoader(), "guard-rules.conf"),
                    "rules", "guard-rules.conf"));
            builtIn = rules;
        }
        return rules;
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

    /** The same rules, reading files a command names ({@code psql -f x.sql}) relative to {@code dir}. */
    public Guard in(Path dir) {
        return new Guard(rules, dir);
    }

    private Verdict classify(String line, int depth) {
        if (depth > MAX_DEPTH) {
            return new Verdict(Decision.ASK, "nested too deeply (sh -c inside sh -c ...) to judge", "too-deep", line);
        }
        ShellParser.Parsed parsed = ShellParser.parse(line);
        Verdict verdict = Verdict.ALLOW;
        ShellParser.Command previous = null;
        for (ShellParser.Command c : parsed.commands()) {
            verdict = verdict.worst(judge(c.words(), c, previous, depth));
            previous = c;
        }
        for (String substitution : parsed.substitutions()) {
            verdict = verdict.worst(classify(substitution, depth + 1));
        }
        return verdict;
    }

    /**
     * Judges a command given as an argument vector ({@code backstop guard psql -c "DELETE FROM
     * users"}): the shell has already split and unquoted it, so its words are judged as they are,
     * never joined and split again. A single argument is a whole command line, read as a shell would.
     */
    public Verdict classifyArgv(List<String> argv) {
        if (argv.size() == 1) {
            return classify(argv.get(0));
        }
        return judge(List.copyOf(argv), new ShellParser.Command(List.copyOf(argv), List.of(), List.of(), false), null, 0);
    }

    private Verdict judge(List<String> start, ShellParser.Command c, ShellParser.Command previous, int depth) {
        if (depth > MAX_DEPTH) {
            return new Verdict(Decision.ASK, "nested too deeply (sudo inside ssh inside sh -c ...) to judge", "too-deep",
                    String.join(" ", start));
        }
        List<String> words = new ArrayList<>(start);
        while (!words.isEmpty() && words.get(0).matches("[A-Za-z_][A-Za-z0-9_]*=.*")) {
            words.remove(0); // FOO=bar cmd
        }
        if (words.isEmpty()) {
            return Verdict.ALLOW;
        }
        String program = Unwrap.program(words.get(0));
        if (SHELLS.contains(program)) {
            return shell(words, c, previous, depth);
        }
        Unwrap.Inner inner = Unwrap.inner(words);
        if (inner != null) {
            if (inner.verdict() != null) {
                return inner.verdict();
            }
            if (inner.line() != null) {
                return classify(inner.line(), depth + 1);
            }
            // The inner command reads the same stdin: a heredoc given to `docker exec -i db psql` is psql's.
            Verdict v = judge(inner.words(), c, previous, depth + 1);
            return inner.orWords() == null || inner.orWords().equals(inner.words()) ? v
                    : v.worst(judge(inner.orWords(), c, previous, depth + 1));
        }
        words.set(0, program);
        if (program.equals("docker-compose")) {
            words.set(0, "compose");
            words.add(0, "docker");
        }
        Verdict verdict = Verdict.ALLOW;
        if (Engines.isClient(program)) {
            verdict = Engines.judge(program, words, c, previous, dir);
        } else if (c.pipedFrom() && Engines.INTERPRETERS.contains(program)) {
            verdict = piped(program, words, c, previous);
        }
        Verdict framework = Code.frameworkShell(words, c, previous, dir);
        if (framework != null) {
            verdict = verdict.worst(framework);
        }
        verdict = verdict.worst(Requests.judge(program, words));
        if (onlyPrints(words) || NEVER_RUNS.contains(program)) {
            return verdict; // --help, --dry-run, --pretend, or a program that only reads or prints its arguments
        }
        if (Set.of("npm", "pnpm", "yarn", "bun").contains(program)) {
            verdict = verdict.worst(packageScript(words, depth));
        }
        for (Rule rule : rules) {
            if (rule.matches(words)) {
                verdict = verdict.worst(new Verdict(rule.decision(), rule.reason(), rule.name(), String.join(" ", words)));
            }
        }
        return verdict;
    }

    /** sh -c '...', bash -lc '...', sh script.sh (read when it can be), or a script piped in. */
    private Verdict shell(List<String> words, ShellParser.Command c, ShellParser.Command previous, int depth) {
        for (int k = 1; k < words.size(); k++) {
            String w = words.get(k);
            if (w.matches("-[a-zA-Z]*c[a-zA-Z]*") && k + 1 < words.size()) {
                return classify(words.get(k + 1), depth + 1);
            }
            if (!w.startsWith("-") && !w.startsWith("+")) {
                List<String> scripts = new ArrayList<>();
                List<String> unreadable = new ArrayList<>();
                Engines.read(w, dir, scripts, unreadable);
                return scripts.isEmpty() ? Verdict.ALLOW : classify(scripts.get(0), depth + 1);
            }
        }
        if (c.pipedFrom() || !c.stdinFiles().isEmpty() || !c.stdinTexts().isEmpty()) {
            List<String> scripts = new ArrayList<>();
            List<String> unreadable = new ArrayList<>();
            Engines.stdin(c, previous, dir, scripts, unreadable);
            Verdict v = Verdict.ALLOW;
            for (String script : scripts) {
                v = v.worst(classify(script, depth + 1));
            }
            if (!unreadable.isEmpty()) {
                v = v.worst(new Verdict(Decision.ASK, words.get(0) + " runs a script the guard cannot read ("
                        + String.join(", ", unreadable) + "): what it does is not known until it runs",
                        "cannot-see-script", String.join(" ", words)));
            }
            return v;
        }
        return Verdict.ALLOW;
    }

    /** A program that reads commands from a pipe whose content the guard cannot see (redis-cli, python, ...). */
    private Verdict piped(String program, List<String> words, ShellParser.Command c, ShellParser.Command previous) {
        List<String> scripts = new ArrayList<>();
        List<String> unreadable = new ArrayList<>();
        Engines.stdin(c, previous, dir, scripts, unreadable);
        for (String script : scripts) {
            for (String line : script.split("\\R")) {
                List<String> command = new ArrayList<>(List.of(program));
                command.addAll(List.of(line.strip().split("\\s+")));
                for (Rule rule : rules) {
                    if (rule.matches(command)) {
                        return new Verdict(rule.decision(), rule.reason(), rule.name(), line.strip());
                    }
                }
            }
        }
        return unreadable.isEmpty() ? Verdict.ALLOW : new Verdict(Decision.ASK, program + " reads commands the guard"
                + " cannot see (" + String.join(", ", unreadable) + ")", "cannot-see-script", String.join(" ", words));
    }

    /** npm run X, pnpm X, yarn X: the script package.json gives X, judged as the line it is. */
    private Verdict packageScript(List<String> words, int depth) {
        List<String> rest = Unwrap.afterOptions(words, 1, Set.of("--prefix", "-C", "--cwd", "--filter", "-F"));
        if (!rest.isEmpty() && Set.of("run", "run-script").contains(rest.get(0))) {
            rest = Unwrap.afterOptions(rest, 1, Set.of());
        }
        if (rest.isEmpty()) {
            return Verdict.ALLOW;
        }
        String script = PackageJson.scripts(dir).get(rest.get(0));
        return script == null ? Verdict.ALLOW : classify(script, depth + 1);
    }

    private static final Set<String> ONLY_PRINTS = Set.of("--help", "--dry-run", "--dryrun", "--pretend");
    /** Programs that take other commands' names as words to look up, print or search, never to run. */
    private static final Set<String> NEVER_RUNS = Set.of("which", "whereis", "type", "command", "man", "info", "help",
            "apropos", "whatis", "tldr", "echo", "printf", "grep", "egrep", "fgrep", "rg", "ag", "ack", "cat", "less",
            "more", "head", "tail", "wc", "ls", "stat", "file", "du", "locate", "git", "history");

    private static boolean onlyPrints(List<String> words) {
        return words.stream().anyMatch(ONLY_PRINTS::contains);
    }
}
