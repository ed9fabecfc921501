package io.backstop.cli;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.guard.Decision;
import io.backstop.guard.Guard;
import io.backstop.guard.Hook;
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

    @Parameters(paramLabel = "COMMAND", description = "The command to judge: its arguments as the shell"
            + " passed them (never joined and split again); one argument is read as a whole command line.")
    List<String> command;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        Map<String, String> env = parent.main().env();
        byte[] stdin = command == null || command.isEmpty() || hook ? System.in.readAllBytes() : null;
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
        verdict = withBackup(command == null || command.isEmpty()
                ? judge(g -> g.classify(new String(stdin, StandardCharsets.UTF_8)), env)
                : judge(g -> g.classifyArgv(command), env), env);
        if (json) {
            out.println(Hook.json(verdict));
        } else {
            out.printf("%s: %s%s%n", verdict.decision().word(), verdict.reason(),
                    verdict.rule() == null ? "" : " (rule " + verdict.rule() + ")");
        }
        return switch (verdict.decision()) {
            case ALLOW -> ExitCode.OK.status();
            case ASK -> ExitCode.GUARD_ASK.status();
            case BLOCK -> ExitCode.GUARD_BLOCK.status();
        };
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
        Optional<Path> file = Optional.ofNullable(parent.config)
                .or(() -> Optional.ofNullable(env.get("BACKSTOP_CONFIG")).filter(s -> !s.isBlank()).map(Path::of))
                .or(() -> Optional.of(Path.of("config", "backstop.conf")).filter(Files::isRegularFile));
        return Guard.withRules(file);
    }

    /** With --backup-first and an ask: a labelled backup through the daemon, reported in the reason. */
    private Verdict withBackup(Verdict verdict, Map<String, String> env) {
        if (!backupFirst || verdict.decision() != Decision.ASK) {
            return verdict;
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

    private static String field(String json, String name) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + name + "\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"")
                .matcher(json);
        return m.find() ? m.group(1) : json;
    }
}
