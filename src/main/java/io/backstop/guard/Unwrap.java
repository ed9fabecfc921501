package io.backstop.guard;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One step through every way a command reaches another: privilege and environment wrappers
 * (sudo, su, runuser, env, nice, timeout, xargs ...), secret injectors ({@code op run --},
 * {@code doppler run --}), package runners with or without a version ({@code npx prisma@5},
 * {@code uvx}, {@code pnpm dlx}), containers and pods whatever options come before the verb
 * ({@code docker --context x exec -it db psql}, {@code kubectl -n prod exec pod -- psql}),
 * remote shells ({@code ssh host '...'}, {@code heroku run}) and {@code eval}. The result is
 * the inner command's words, or a whole command line to read again, or a verdict when the
 * inner command cannot be seen (text built at run time).
 */
final class Unwrap {
    /** What a wrapper runs: words (already split), a line (to parse as a shell would), or a verdict. */
    record Inner(List<String> words, String line, Verdict verdict, List<String> orWords) {
        Inner(List<String> words, String line, Verdict verdict) {
            this(words, line, verdict, null);
        }

        static Inner words(List<String> w) {
            return new Inner(w, null, null);
        }

        static Inner line(String l) {
            return new Inner(null, l, null);
        }
    }

    private static final Set<String> SUDO_ARGS = Set.of("-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T",
            "--user", "--group", "--chdir", "--host", "--prompt", "--role", "--type", "--other-user", "--close-from");
    static final Set<String> EXEC_ARGS = Set.of("-e", "--env", "-u", "--user", "-w", "--workdir", "--env-file",
            "--index", "--entrypoint", "-l", "--label", "-v", "--volume", "--name", "-p", "--publish", "--detach-keys",
            "--network", "--net", "--mount", "--platform", "-h", "--hostname", "--add-host", "--dns", "--cpus", "-m",
            "--memory", "--pull", "--restart", "--log-driver", "--log-opt", "--cap-add", "--cap-drop", "--device",
            "--ulimit", "--tmpfs", "--shm-size", "--gpus", "--pid", "--ipc", "--security-opt", "--label-file",
            "--expose", "--link", "--volumes-from", "--stop-signal", "--stop-timeout", "--health-cmd", "--cidfile");
    private static final Set<String> DOCKER_GLOBAL = Set.of("-H", "--host", "-c", "--context", "--config", "-l",
            "--log-level", "--tlscacert", "--tlscert", "--tlskey", "--url", "--connection");
    private static final Set<String> COMPOSE_ARGS = Set.of("-f", "--file", "-p", "--project-name", "--profile",
            "--env-file", "--project-directory", "--ansi", "--progress", "--parallel");
    private static final Set<String> KUBE_ARGS = Set.of("-n", "--namespace", "--context", "--kubeconfig", "-s",
            "--server", "--cluster", "--user", "-c", "--container", "--token", "--as", "--request-timeout", "-f",
            "--filename", "--pod-running-timeout", "-l", "--selector");
    private static final Set<String> SSH_ARGS = Set.of("-p", "-i", "-l", "-o", "-F", "-J", "-L", "-R", "-D", "-W", "-b",
            "-c", "-E", "-e", "-m", "-O", "-Q", "-S", "-w", "-B", "-I");
    private static final Set<String> RUNNER_ARGS = Set.of("-p", "--package", "--from", "--with", "--python", "-c",
            "--call", "--spec", "--node-options", "--registry", "--cache", "--prefix", "--filter", "-F", "--workspace",
            "-w", "--cwd", "-C", "--dir", "--env-file");
    /** Programs that run what follows their {@code --} (secret injectors, env loaders, credential wrappers). */
    private static final Set<String> RUN_AFTER_DASHES = Set.of("op", "doppler", "infisical", "dotenv", "dotenvx",
            "aws-vault", "chamber", "envchain", "with-contenv", "teller", "sops", "direnv", "berglas", "vault");
    private static final Pattern DYNAMIC = Pattern.compile("\\$\\{|\\$\\(|`|\\$[A-Za-z_][A-Za-z0-9_]*+(?!\\$)");

    private Unwrap() {
    }

    /** Text a shell would expand before it runs (variables, command substitutions): the guard cannot see it. */
    static boolean dynamic(String text) {
        return DYNAMIC.matcher(text).find();
    }

    /** The program a word names: its base name, without a runner's version ({@code prisma@5}, {@code @prisma/cli@5}). */
    static String program(String word) {
        String base = word.contains("/") ? word.substring(word.lastIndexOf('/') + 1) : word;
        int at = base.indexOf('@', 1);
        return at > 0 ? base.substring(0, at) : base;
    }

    /** The command a wrapper runs, or null when {@code words} is not a wrapper. */
    static Inner inner(List<String> words) {
        String program = program(words.get(0));
        switch (program) {
            case "sudo", "doas", "sudo-rs" -> {
                return Inner.words(afterOptions(words, 1, SUDO_ARGS));
            }
            case "su" -> {
                return su(words);
            }
            case "runuser", "setpriv", "chroot", "unshare", "nsenter", "setsid", "chrt", "taskset", "prlimit" -> {
                int dashes = words.indexOf("--");
                if (dashes > 0) {
                    return Inner.words(words.subList(dashes + 1, words.size()));
                }
                return program.equals("runuser") ? su(words) : Inner.words(afterOptions(words, 1, Set.of("-u", "-g")));
            }
            case "env" -> {
                List<String> rest = new ArrayList<>(afterOptions(words, 1, Set.of("-u", "--unset", "-C", "--chdir")));
                while (!rest.isEmpty() && rest.get(0).matches("[A-Za-z_][A-Za-z0-9_]*=.*")) {
                    rest.remove(0);
                }
                int split = words.indexOf("-S");
                return split > 0 && split + 1 < words.size() ? Inner.line(words.get(split + 1)) : Inner.words(rest);
            }
            case "command" -> {
                boolean lookup = words.size() > 1 && (words.get(1).equals("-v") || words.get(1).equals("-V"));
                return lookup ? null : Inner.words(afterOptions(words, 1, Set.of()));
            }
            case "nohup", "time", "exec", "builtin", "stdbuf", "caffeinate", "chronic", "unbuffer", "nocache", "catchsegv",
                    "cross-env", "dotenv-run" -> {
                List<String> rest = new ArrayList<>(afterOptions(words, 1, Set.of("-a")));
                while (!rest.isEmpty() && rest.get(0).matches("[A-Za-z_][A-Za-z0-9_]*=.*")) {
                    rest.remove(0); // cross-env A=b cmd
                }
                return Inner.words(rest);
            }
            case "nice", "ionice" -> {
                return Inner.words(afterOptions(words, 1, Set.of("-n", "-c", "--adjustment", "--class")));
            }
            case "timeout", "watch", "flock" -> {
                Set<String> values = program.equals("watch") ? Set.of("-n", "--interval", "-d")
                        : Set.of("-s", "--signal", "-k", "--kill-after", "-w", "--wait", "-E");
                List<String> rest = afterOptions(words, 1, values);
                boolean firstIsOperand = !program.equals("watch"); // timeout DURATION cmd, flock FILE cmd
                List<String> cmd = firstIsOperand && !rest.isEmpty() ? rest.subList(1, rest.size()) : rest;
                return program.equals("watch") && cmd.size() == 1 ? Inner.line(cmd.get(0)) : Inner.words(cmd);
            }
            case "xargs", "parallel" -> {
                return Inner.words(afterOptions(words, 1, Set.of("-I", "-i", "-n", "-P", "-L", "-d", "-E", "-s", "-a",
                        "-j", "--jobs", "--max-args", "--delimiter", "--arg-file", "--replace")));
            }
            case "eval" -> {
                String text = String.join(" ", words.subList(1, words.size()));
                return dynamic(text) ? new Inner(null, null, new Verdict(Decision.ASK, "eval runs text built at run time"
                        + " (" + text + "): the guard cannot see what it will be", "cannot-see-eval", text))
                        : Inner.line(text);
            }
            case "npx", "bunx", "pnpx", "uvx", "pipx", "bun", "deno" -> {
                List<String> rest = afterOptions(words, 1, RUNNER_ARGS);
                if (!rest.isEmpty() && Set.of("run", "x", "exec", "dlx").contains(rest.get(0))
                        && Set.of("pipx", "bun", "deno").contains(program)) {
                    rest = afterOptions(rest, 1, RUNNER_ARGS);
                } else if (Set.of("pipx", "bun", "deno").contains(program)) {
                    return null; // bun install, deno fmt ...: the program itself
                }
                return Inner.words(rest);
            }
            case "pnpm", "yarn", "npm", "bundle", "poetry", "uv", "pipenv", "hatch", "pdm", "rye", "conda", "mamba",
                    "micromamba", "pixi" -> {
                List<String> rest = afterOptions(words, 1, RUNNER_ARGS);
                if (rest.size() > 1 && Set.of("exec", "dlx", "x", "run").contains(rest.get(0))) {
                    List<String> cmd = afterOptions(rest, 1, RUNNER_ARGS);
                    return Inner.words(cmd);
                }
                return program.equals("yarn") && !rest.isEmpty() && !rest.get(0).equals("add") ? Inner.words(rest) : null;
            }
            case "docker", "podman", "nerdctl", "finch" -> {
                return container(words);
            }
            case "docker-compose", "podman-compose" -> {
                return composeRun(words, 1);
            }
            case "kubectl", "oc", "microk8s.kubectl", "k3s" -> {
                return pod(words);
            }
            case "ssh", "mosh", "autossh" -> {
                List<String> rest = afterOptions(words, 1, SSH_ARGS);
                if (rest.size() < 2) {
                    return null; // an interactive session: nothing written here to judge
                }
                return Inner.line(String.join(" ", rest.subList(1, rest.size())));
            }
            case "wrangler" -> {
                List<String> rest = afterOptions(words, 1, Set.of("--config", "-c", "--env", "-e"));
                if (rest.size() > 1 && rest.get(0).equals("d1") && rest.get(1).equals("execute")) {
                    List<String> d1 = new ArrayList<>(List.of("d1-execute"));
                    d1.addAll(rest.subList(2, rest.size()));
                    return Inner.words(d1);
                }
                return null;
            }
            case "turso" -> {
                if (words.size() > 3 && words.get(1).equals("db") && words.get(2).equals("shell")) {
                    List<String> shell = new ArrayList<>(List.of("turso-shell"));
                    shell.addAll(words.subList(3, words.size())); // DB, then SQL
                    return Inner.words(shell);
                }
                return null;
            }
            case "heroku" -> {
                if (words.size() > 2 && words.get(1).equals("pg:psql")) {
                    List<String> psql = new ArrayList<>(List.of("psql"));
                    psql.addAll(words.subList(2, words.size())); // -c/--command as psql's
                    return Inner.words(psql);
                }
                if (words.size() > 2 && words.get(1).equals("run")) {
                    List<String> rest = afterOptions(words, 2, Set.of("-a", "--app", "-r", "--remote", "-s", "--size",
                            "-e", "--env", "--type"));
                    return rest.size() == 1 ? Inner.line(rest.get(0)) : Inner.words(rest);
                }
                return null;
            }
            default -> {
                if (RUN_AFTER_DASHES.contains(program)) {
                    int dashes = words.indexOf("--");
                    if (dashes > 0) {
                        return Inner.words(words.subList(dashes + 1, words.size()));
                    }
                    if (program.equals("direnv") && words.size() > 3 && words.get(1).equals("exec")) {
                        return Inner.words(words.subList(3, words.size())); // direnv exec DIR cmd
                    }
                }
                return null;
            }
        }
    }

    /** su [-] [-l] [user] -c CMD, runuser -u USER -- CMD or -c CMD. */
    private static Inner su(List<String> words) {
        for (int k = 1; k < words.size() - 1; k++) {
            String w = words.get(k);
            if (w.equals("-c") || w.equals("--command") || w.equals("--session-command")) {
                return Inner.line(words.get(k + 1));
            }
            if (w.startsWith("--command=")) {
                return Inner.line(w.substring("--command=".length()));
            }
        }
        return null; // a login shell: nothing written here to judge
    }

    /** docker [global options] exec|run|container exec|container run|compose ... */
    private static Inner container(List<String> words) {
        List<String> rest = afterOptions(words, 1, DOCKER_GLOBAL);
        if (!rest.isEmpty() && rest.get(0).equals("container")) {
            rest = rest.subList(1, rest.size());
        }
        if (rest.isEmpty()) {
            return null;
        }
        switch (rest.get(0)) {
            case "exec" -> {
                List<String> after = afterOptions(rest, 1, EXEC_ARGS);
                return after.isEmpty() ? null : Inner.words(after.subList(1, after.size())); // the container
            }
            case "run", "create" -> {
                // The image's entrypoint may be the program (flyway/flyway clean), or the words may be a command.
                List<String> after = afterOptions(rest, 1, EXEC_ARGS);
                if (after.isEmpty()) {
                    return null;
                }
                List<String> withImage = new ArrayList<>(List.of(image(after.get(0))));
                withImage.addAll(after.subList(1, after.size()));
                return new Inner(after.size() > 1 ? after.subList(1, after.size()) : withImage, null, null, withImage);
            }
            case "compose" -> {
                return composeRun(rest, 1);
            }
            default -> {
                return null;
            }
        }
    }

    /** postgres:16, ghcr.io/org/flyway/flyway:10 → the program its name suggests (postgres, flyway). */
    private static String image(String ref) {
        String name = ref.contains("/") ? ref.substring(ref.lastIndexOf('/') + 1) : ref;
        int colon = name.indexOf(':');
        int at = name.indexOf('@');
        int cut = colon > 0 ? colon : at > 0 ? at : name.length();
        return name.substring(0, cut);
    }

    /** compose [-f x] exec|run [options] SERVICE cmd... */
    private static Inner composeRun(List<String> words, int from) {
        List<String> rest = afterOptions(words, from, COMPOSE_ARGS);
        if (rest.isEmpty() || !(rest.get(0).equals("exec") || rest.get(0).equals("run"))) {
            return null;
        }
        List<String> after = afterOptions(rest, 1, EXEC_ARGS);
        return after.isEmpty() ? null : Inner.words(after.subList(1, after.size()));
    }

    /** kubectl [global options] exec [options] POD [--] cmd..., the verb wherever its options put it. */
    private static Inner pod(List<String> words) {
        List<String> rest = afterOptions(words, 1, KUBE_ARGS);
        if (rest.isEmpty() || !(rest.get(0).equals("exec") || rest.get(0).equals("debug") || rest.get(0).equals("run"))) {
            return null;
        }
        int dashes = rest.indexOf("--");
        if (dashes > 0) {
            return Inner.words(rest.subList(dashes + 1, rest.size()));
        }
        List<String> after = afterOptions(rest, 1, KUBE_ARGS);
        return after.size() < 2 ? null : Inner.words(after.subList(1, after.size())); // exec POD cmd (old form)
    }

    /** The words after index {@code from} once options (and the values of {@code withValue}) are skipped. */
    static List<String> afterOptions(List<String> words, int from, Set<String> withValue) {
        int k = from;
        while (k < words.size() && words.get(k).startsWith("-") && words.get(k).length() > 1) {
            String w = words.get(k);
            if (w.equals("--")) {
                k++;
                break;
            }
            // -iu postgres: a short cluster ending in an option that takes a value takes the next word.
            boolean cluster = !w.startsWith("--") && w.length() > 2 && w.substring(1).chars().allMatch(Character::isLetter)
                    && withValue.contains("-" + w.charAt(w.length() - 1));
            k += withValue.contains(w) || cluster ? 2 : 1;
        }
        return k >= words.size() ? List.of() : words.subList(k, words.size());
    }
}
