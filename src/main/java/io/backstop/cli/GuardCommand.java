package io.backstop.cli;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.guard.Decision;
import io.backstop.guard.Guard;
import io.backstop.guard.Hook;
import io.backstop.guard.Scan;
import io.backstop.guard.Verdict;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code backstop guard}: judge a shell command before it runs. */
@Command(name = "guard", header = "Judge a shell command or SQL before it runs.",
        description = {"Classify a shell command as allow, ask (destructive: needs a person's",
        "approval) or block. The command is everything after the guard's own options (-- optional),",
        "or stdin. Exit 0 allow, 10 ask, 11 block.",
        "--hook reads a coding assistant's pre-tool-use JSON on stdin and answers ask or deny in JSON;",
        "nothing when it finds no danger, so the assistant's own permission prompt stays (always exit 0)."})
public final class GuardCommand implements Callable<Integer> {
    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "Answer as one JSON object.")
    boolean json;

    @Option(names = "--hook", description = "Pre-tool-use hook mode: JSON in, JSON out; unreadable input is denied.")
    boolean hook;

    @Option(names = "--backup-first", description = "When the command is destructive and a Backstop daemon answers,"
            + " take a labelled backup (POST /backup) before answering ask.")
    boolean backupFirst;

    @Option(names = "--url", paramLabel = "URL", description = "The daemon (default: $BACKSTOP_URL or http://127.0.0.1:8080).")
    String url;

    @Option(names = "--batch", description = "JSON Lines on stdin ({\"command\": \"...\"} a line): one --json verdict"
            + " a line, in order, in one process. Exit as the worst verdict.")
    boolean batch;

    @Parameters(paramLabel = "COMMAND", description = "The command to judge: its arguments as the shell"
            + " passed them (never joined and split again); one argument is read as a whole command line."
            + " `scan PATH...` reports every destructive statement or command in those files instead.")
    List<String> command;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        Map<String, String> env = parent.invocation().env();
        if (!hook && !batch && command != null && command.size() > 1 && command.get(0).equals("scan")) {
            return scan(command.subList(1, command.size()), out, env);
        }
        byte[] stdin = command == null || command.isEmpty() || hook || batch ? parent.invocation().stdin().readAllBytes() : null;
        if (!hook && (command == null || command.isEmpty()) && new String(stdin, StandardCharsets.UTF_8).isBlank()) {
            // Nothing read is nothing judged: never an allow for a command line the guard did not see.
            throw new BackstopException(ExitCode.USAGE, "guard: no command to judge; give it after the guard's options"
                    + " (backstop guard psql -c \"...\", or after --) or on stdin");
        }
        Verdict verdict;
        if (hook) {
            Hook.Call call = Hook.read(stdin);
            if (call.otherTool()) {
                return ExitCode.OK.status();
            }
            verdict = call.refusal() != null ? call.refusal() : judge(g -> g.classify(call.command()), env);
            Hook.answer(withBackup(verdict, env)).ifPresent(out::println);
            return ExitCode.OK.status();
        }
        if (batch) {
            Verdict worst = Verdict.ALLOW;
            for (String line : new String(stdin, StandardCharsets.UTF_8).split("\\R")) {
                if (line.isBlank()) {
                    continue;
                }
                Verdict v = Hook.batchLine(line).map(c -> judge(g -> g.classify(c), env))
                        .orElseGet(() -> Hook.batchRefusal(line));
                v = withLastBackup(v, env);
                out.println(Hook.json(v));
                worst = worst.worst(v);
            }
            return status(worst);
        }
        verdict = withBackup(command == null || command.isEmpty()
                ? judge(g -> g.classify(new String(stdin, StandardCharsets.UTF_8)), env)
                : judge(g -> g.classifyArgv(command), env), env);
        if (json) {
            out.println(Hook.json(verdict));
        } else {
            out.printf("%s: %s%s%n", verdict.decision().word(), verdict.reason(),
                    verdict.rule() == null ? "" : " (rule " + verdict.rule() + ")");
        }
        return status(verdict);
    }

    private static int status(Verdict verdict) {
        return switch (verdict.decision()) {
            case ALLOW -> ExitCode.OK.status();
            case ASK -> ExitCode.GUARD_ASK.status();
            case BLOCK -> ExitCode.GUARD_BLOCK.status();
        };
    }

    /** guard scan PATH...: each finding as FILE:LINE: decision: reason; exit as the worst. */
    private int scan(List<String> paths, PrintWriter out, Map<String, String> env) {
        Path cwd = cwd(env);
        List<Scan.Finding> found;
        try {
            found = new Scan(guard(env)).scan(paths.stream().map(cwd::resolve).toList());
        } catch (IOException e) {
            throw new BackstopException(ExitCode.USAGE, "guard scan: " + e.getMessage());
        }
        Verdict worst = Verdict.ALLOW;
        for (Scan.Finding f : found) {
            Path shown = f.file().startsWith(cwd) ? cwd.relativize(f.file()) : f.file();
            out.println(new Scan.Finding(shown, f.line(), f.verdict()).describe());
            worst = worst.worst(f.verdict());
        }
        out.println(found.isEmpty() ? "guard scan: nothing destructive found in " + String.join(" ", paths)
                : "guard scan: " + found.size() + " destructive statements or commands");
        return status(worst);
    }

    /** The directory the command runs in: relative files (psql -f x.sql) are read from there. */
    private static Path cwd(Map<String, String> env) {
        String pwd = env.get("BACKSTOP_GUARD_CWD");
        return pwd != null && !pwd.isBlank() ? Path.of(pwd) : Path.of("").toAbsolutePath();
    }

    private Verdict judge(java.util.function.Function<Guard, Verdict> how, Map<String, String> env) {
        try {
            return how.apply(guard(env));
        } catch (BackstopException e) {
            // fail closed: a broken rule file must not let everything through
            return new Verdict(Decision.BLOCK, e.getMessage(), "guard-config", null);
        }
    }

    private Guard guard(Map<String, String> env) {
        return Guard.withRules(configFile(env)).in(cwd(env));
    }

    private Optional<Path> configFile(Map<String, String> env) {
        return Optional.ofNullable(parent.config)
                .or(() -> Optional.ofNullable(env.get("BACKSTOP_CONFIG")).filter(s -> !s.isBlank()).map(Path::of))
                .or(() -> Optional.of(cwd(env).resolve("config/backstop.conf")).filter(Files::isRegularFile))
                .map(p -> cwd(env).resolve(p));
    }

    /** With --backup-first and an ask: a labelled backup through the daemon, reported in the reason. */
    private Verdict withBackup(Verdict verdict, Map<String, String> env) {
        if (!backupFirst || verdict.decision() != Decision.ASK) {
            return withLastBackup(verdict, env);
        }
        String base = url != null ? url : env.getOrDefault("BACKSTOP_URL", "http://127.0.0.1:8080");
        String token = env.getOrDefault("BACKSTOP_HTTP_TOKEN", "");
        String tokenFile = env.get("BACKSTOP_HTTP_TOKEN_FILE");
        try {
            if (token.isEmpty() && tokenFile != null) {
                token = Files.readString(Path.of(tokenFile)).strip();
            }
            HttpResponse<String> r = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build().send(
                    HttpRequest.newBuilder(URI.create(base.replaceAll("/+$", "") + "/backup?label=pre-guard&safety=1"))
                            .header("Authorization", "Bearer " + token).timeout(Duration.ofMinutes(30))
                            .POST(HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.ofString());
            String note = r.statusCode() == 200
                    ? " A backup was taken first: " + field(r.body(), "file") + "."
                    : " No backup was taken: the daemon at " + base + " answered " + r.statusCode() + " "
                            + field(r.body(), "error") + ".";
            return new Verdict(verdict.decision(), verdict.reason() + note, verdict.rule(), verdict.matched());
        } catch (IOException | RuntimeException e) {
            return new Verdict(verdict.decision(), verdict.reason() + " No backup was taken: no Backstop daemon answered at "
                    + base + " (" + e.getClass().getSimpleName() + ").", verdict.rule(), verdict.matched());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return verdict;
        }
    }

    /**
     * A destructive verdict says how old the last verified backup is: from the daemon (--url or
     * BACKSTOP_URL) or, with a configuration, from the backup directory. Nothing when neither is known.
     */
    private Verdict withLastBackup(Verdict verdict, Map<String, String> env) {
        if (verdict.decision() == Decision.ALLOW) {
            return verdict;
        }
        String note = null;
        String base = url != null ? url : env.get("BACKSTOP_URL");
        // Cached per daemon, or per configuration file and environment (the backup directory may come from either).
        String key = base != null && !base.isBlank() ? base
                : configFile(env).map(p -> p + "|" + new java.util.TreeMap<>(env).hashCode()).orElse(null);
        Noted cached = key == null ? null : NOTES.get(key);
        if (cached != null && cached.at() > System.nanoTime() - NOTE_FOR_NANOS) {
            note = cached.note(); // a guard server answers many calls: the catalog is read at most once in a while
        } else if (key != null) {
            try {
                note = base != null && !base.isBlank() ? fromDaemon(base) : fromBackupDir();
            } catch (IOException | RuntimeException e) {
                note = null; // the verdict stands on its own
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            NOTES.put(key, new Noted(System.nanoTime(), note));
        }
        return note == null ? verdict
                : new Verdict(verdict.decision(), verdict.reason() + note, verdict.rule(), verdict.matched());
    }

    private record Noted(long at, String note) {
    }

    private static final java.util.concurrent.ConcurrentHashMap<String, Noted> NOTES = new java.util.concurrent.ConcurrentHashMap<>();
    private static final long NOTE_FOR_NANOS = Duration.ofSeconds(10).toNanos();

    private static String fromDaemon(String base) throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build().send(
                HttpRequest.newBuilder(URI.create(base.replaceAll("/+$", "") + "/health")).timeout(Duration.ofSeconds(2))
                        .GET().build(), HttpResponse.BodyHandlers.ofString());
        com.fasterxml.jackson.databind.JsonNode targets = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(r.body()).path("targets");
        StringBuilder note = new StringBuilder();
        for (com.fasterxml.jackson.databind.JsonNode t : targets) {
            String newest = t.path("newest_verified_backup").asText(null);
            note.append(lastBackup(t.path("target").asText("?"), newest == null ? null : java.time.Instant.parse(newest)));
        }
        return note.length() == 0 ? null : note.toString();
    }

    private String fromBackupDir() {
        var main = parent.components();
        if (!Files.isDirectory(main.settings().backupDir())) {
            return null;
        }
        StringBuilder note = new StringBuilder();
        for (var t : main.settings().targets()) {
            note.append(lastBackup(t.name(), main.catalog().newestVerified(t.name())
                    .flatMap(e -> e.manifest()).map(m -> m.finishedAt()).orElse(null)));
        }
        return note.toString();
    }

    private static String lastBackup(String target, java.time.Instant at) {
        if (at == null) {
            return " Target " + target + " has NO verified backup: take one first (backstop backup --label pre-change).";
        }
        Duration age = Duration.between(at, java.time.Instant.now());
        String ago = age.toDays() > 0 ? age.toDays() + " d " + age.toHoursPart() + " h"
                : age.toHours() > 0 ? age.toHours() + " h " + age.toMinutesPart() + " min" : age.toMinutes() + " min";
        return " The last verified backup of target " + target + " was taken " + ago + " ago (" + at + ").";
    }

    private static String field(String json, String name) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + name + "\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"")
                .matcher(json);
        return m.find() ? m.group(1) : json;
    }
}
