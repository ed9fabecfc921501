package io.backstop.guard;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Database clients of every engine, and the interpreters that run application code: what each
 * would run (its SQL, CQL, MongoDB or ORM code), read from its options in any spelling
 * ({@code -c SQL}, {@code -cSQL}, {@code -Xc SQL}, {@code --command=SQL}), its {@code -f} files,
 * redirects, here-documents and what is piped in. What cannot be read (a missing file, text built
 * at run time, another program's output, {@code \i}, {@code \gexec}, {@code EXECUTE} in a DO
 * block) is an ask with that reason: never a pass.
 */
final class Engines {
    enum Language { SQL, MONGO, CODE }

    /** A client: which options carry a script, which a file, which take another value, and what it reads. */
    private record Client(Language language, Set<Character> scriptFlags, Set<String> scriptLong, Set<Character> fileFlags,
            Set<String> fileLong, Set<String> valueOptions, boolean positionalScripts, Set<Character> attachedValue) {
        Client(Language language, Set<Character> scriptFlags, Set<String> scriptLong, Set<Character> fileFlags,
                Set<String> fileLong, Set<String> valueOptions, boolean positionalScripts) {
            this(language, scriptFlags, scriptLong, fileFlags, fileLong, valueOptions, positionalScripts, Set.of());
        }
    }

    private static final Map<String, Client> CLIENTS = Map.ofEntries(
            Map.entry("psql", new Client(Language.SQL, Set.of('c'), Set.of("--command"), Set.of('f'), Set.of("--file"),
                    Set.of("-h", "-p", "-U", "-d", "-v", "-o", "-L", "-P", "-T", "-F", "-R", "--host", "--port",
                            "--username", "--dbname", "--set", "--variable", "--output", "--log-file", "--pset"), false)),
            Map.entry("mysql", mysql()), Map.entry("mariadb", mysql()),
            Map.entry("sqlite3", sqlite()), Map.entry("sqlite", sqlite()),
            Map.entry("duckdb", new Client(Language.SQL, Set.of('c', 's'), Set.of("-cmd", "--command"), Set.of('f'),
                    Set.of("-init"), Set.of(), true)),
            Map.entry("clickhouse-client", clickhouse()), Map.entry("clickhouse-local", clickhouse()),
            Map.entry("cqlsh", new Client(Language.SQL, Set.of('e'), Set.of("--execute"), Set.of('f'), Set.of("--file"),
                    Set.of("-u", "-p", "-k", "--username", "--password", "--keyspace", "--cqlversion", "--request-timeout",
                            "--connect-timeout"), false)),
            Map.entry("sqlcmd", new Client(Language.SQL, Set.of('Q', 'q'), Set.of("--query"), Set.of('i'),
                    Set.of("--input-file"), Set.of("-S", "-U", "-P", "-d", "-o", "-H", "-l", "-t", "-s", "-W", "-h", "-w",
                            "--server", "--user-name", "--password", "--database-name"), false)),
            Map.entry("mongosh", new Client(Language.MONGO, Set.of(), Set.of("--eval"), Set.of(), Set.of("--file"),
                    Set.of("-u", "-p", "--username", "--password", "--host", "--port", "--authenticationDatabase"), false)),
            Map.entry("mongo", new Client(Language.MONGO, Set.of(), Set.of("--eval"), Set.of(), Set.of(),
                    Set.of("-u", "-p", "--username", "--password", "--host", "--port"), false)),
            // wrangler d1 execute DB --command SQL | --file F (Cloudflare D1), turso db shell DB "SQL"
            Map.entry("d1-execute", new Client(Language.SQL, Set.of(), Set.of("--command"), Set.of(), Set.of("--file"),
                    Set.of("--config", "-c", "--env", "-e", "--persist-to"), false)),
            Map.entry("turso-shell", new Client(Language.SQL, Set.of(), Set.of(), Set.of(), Set.of(), Set.of("--location",
                    "--instance"), true)),
            Map.entry("node", code('e', "--eval", "-p", "--print")), Map.entry("ruby", code('e', "--eval")),
            Map.entry("python", code('c', "--command")), Map.entry("python3", code('c', "--command")),
            Map.entry("php", code('r', "--run")), Map.entry("perl", code('e', "--eval")));

    private static Client mysql() {
        // -pSECRET: the password is attached, never a script flag.
        return new Client(Language.SQL, Set.of('e'), Set.of("--execute"), Set.of(), Set.of(), Set.of("-u", "--user", "-h",
                "--host", "-P", "--port", "-D", "--database", "-S", "--socket", "--protocol", "--default-character-set",
                "--defaults-file"), false, Set.of('p'));
    }

    private static Client sqlite() {
        return new Client(Language.SQL, Set.of(), Set.of("-cmd"), Set.of(), Set.of("-init"), Set.of("-separator",
                "-newline", "-nullvalue", "-maxsize", "-pagecache", "-lookaside", "-mmap", "-vfs"), true);
    }

    private static Client clickhouse() {
        return new Client(Language.SQL, Set.of('q'), Set.of("--query", "-n", "--multiquery"), Set.of(),
                Set.of("--queries-file"), Set.of("-h", "--host", "--port", "-u", "--user", "--password", "-d",
                        "--database", "--format", "-f"), false);
    }

    private static Client code(char flag, String... longs) {
        return new Client(Language.CODE, Set.of(flag), Set.of(longs), Set.of(), Set.of(), Set.of("-m", "-W", "-X",
                "-r", "--require", "-I"), false);
    }

    /** Programs that read a script from stdin when one is piped in: what they are given must be readable. */
    static final Set<String> INTERPRETERS = Set.of("sh", "bash", "zsh", "dash", "ksh", "ash", "fish", "psql", "mysql",
            "mariadb", "sqlite3", "duckdb", "clickhouse-client", "cqlsh", "sqlcmd", "mongosh", "mongo", "redis-cli",
            "valkey-cli", "keydb-cli", "python", "python3", "node", "ruby", "perl", "php");

    private Engines() {
    }

    static boolean isClient(String program) {
        return CLIENTS.containsKey(program) || program.equals("clickhouse");
    }

    /** The verdict on what {@code words}' client would run; ALLOW when it runs nothing destructive. */
    static Verdict judge(String program, List<String> words, ShellParser.Command c, ShellParser.Command previous, Path cwd) {
        if (program.equals("clickhouse")) { // clickhouse client|local ...
            if (words.size() < 2) {
                return Verdict.ALLOW;
            }
            program = "clickhouse-" + words.get(1);
            words = words.subList(1, words.size());
            if (!CLIENTS.containsKey(program)) {
                return Verdict.ALLOW;
            }
        }
        Client client = CLIENTS.get(program);
        List<String> scripts = new ArrayList<>();
        List<String> unreadable = new ArrayList<>();
        boolean databaseFileSeen = false;
        boolean scriptSeen = false;
        for (int k = 1; k < words.size(); k++) {
            String w = words.get(k);
            String next = k + 1 < words.size() ? words.get(k + 1) : null;
            int eq = w.indexOf('=');
            String name = w.startsWith("--") && eq > 0 ? w.substring(0, eq) : w;
            if (client.scriptLong().contains(name)) {
                if (eq > 0 && w.startsWith("--")) {
                    scripts.add(w.substring(eq + 1));
                } else if (next != null) {
                    scripts.add(next);
                    k++;
                }
                scriptSeen = true;
            } else if (client.fileLong().contains(name)) {
                read(eq > 0 && w.startsWith("--") ? w.substring(eq + 1) : next, cwd, scripts, unreadable);
                if (!(eq > 0 && w.startsWith("--"))) {
                    k++;
                }
            } else if (client.valueOptions().contains(w)) {
                k++;
            } else if (w.startsWith("-") && !w.startsWith("--") && w.length() > 1) {
                // A short cluster: -c SQL, -cSQL, -Xc SQL, -qAtc SQL, -Xf file.
                int at = clusterFlag(w, client);
                if (at > 0) {
                    char flag = w.charAt(at);
                    String value = at + 1 < w.length() ? w.substring(at + 1) : next;
                    if (at + 1 >= w.length()) {
                        k++;
                    }
                    if (client.scriptFlags().contains(flag)) {
                        scripts.add(value);
                        scriptSeen = true;
                    } else {
                        read(value, cwd, scripts, unreadable);
                    }
                }
            } else if (client.positionalScripts() && !w.startsWith("-")) {
                if (databaseFileSeen) {
                    scripts.add(w); // sqlite3 / duckdb: SQL after the database file
                    scriptSeen = true;
                } else {
                    databaseFileSeen = true;
                }
            } else if (client.language() == Language.CODE && !w.startsWith("-")) {
                break; // python script.py args: the script's own arguments follow
            }
        }
        stdin(c, previous, cwd, scripts, unreadable);
        scripts.removeIf(s -> s == null);
        for (String script : scripts) {
            if (Unwrap.dynamic(script)) {
                unreadable.add("text built at run time: " + abbreviate(script));
                continue;
            }
            String name = program;
            Verdict v = switch (client.language()) {
                case SQL -> sql(program, script);
                case MONGO -> Mongo.destructive(script).map(f -> new Verdict(Decision.ASK, name
                        + " would run destructive commands: " + f[1], f[0], f[1])).orElse(Verdict.ALLOW);
                case CODE -> Code.judge(program, script);
            };
            if (v.decision() != Decision.ALLOW) {
                return v;
            }
        }
        if (!unreadable.isEmpty() && (client.language() != Language.CODE || scriptSeen || c.pipedFrom())) {
            return new Verdict(Decision.ASK, program + " runs " + (client.language() == Language.SQL ? "SQL" : "a script")
                    + " the guard cannot read to check (" + String.join(", ", unreadable) + ")", "cannot-see-script",
                    String.join(" ", words));
        }
        return Verdict.ALLOW;
    }

    /** Where in a short cluster the script or file flag is (a flag that takes a value ends the cluster). */
    private static int clusterFlag(String w, Client client) {
        for (int i = 1; i < w.length(); i++) {
            char ch = w.charAt(i);
            if (client.scriptFlags().contains(ch) || client.fileFlags().contains(ch)) {
                return i;
            }
            if (!Character.isLetter(ch)) {
                return -1;
            }
            if (client.valueOptions().contains("-" + ch) || client.attachedValue().contains(ch)) {
                return -1; // -U postgres, -h db, -pSECRET: a value follows, not SQL
            }
        }
        return -1;
    }

    private static Verdict sql(String program, String script) {
        var found = Sql.destructive(script);
        if (found.isPresent()) {
            return new Verdict(Decision.ASK, program + " would run destructive SQL: " + found.get()[1], found.get()[0],
                    found.get()[1]);
        }
        var hidden = Sql.unseen(script);
        if (hidden.isPresent()) {
            return new Verdict(Decision.ASK, program + " runs SQL the guard cannot see: " + hidden.get(),
                    "cannot-see-sql", script.strip());
        }
        return Verdict.ALLOW;
    }

    /** What reaches the program's stdin: redirected files, here-strings and documents, echo/printf/cat piped in. */
    static void stdin(ShellParser.Command c, ShellParser.Command previous, Path cwd, List<String> scripts,
            List<String> unreadable) {
        for (String f : c.stdinFiles()) {
            read(f, cwd, scripts, unreadable);
        }
        scripts.addAll(c.stdinTexts());
        if (c.pipedFrom() && previous != null && !previous.words().isEmpty()) {
            String feeder = Unwrap.program(previous.words().get(0));
            List<String> args = previous.words().subList(1, previous.words().size());
            if (feeder.equals("echo") || feeder.equals("printf")) {
                scripts.add(String.join(" ", args.stream().filter(a -> !a.matches("-[neE]+")).toList()));
            } else if (feeder.equals("cat")) {
                List<String> files = args.stream().filter(a -> !a.startsWith("-")).toList();
                if (files.isEmpty()) {
                    unreadable.add("cat of its own stdin");
                }
                files.forEach(f -> read(f, cwd, scripts, unreadable));
            } else {
                unreadable.add("the output of " + feeder);
            }
        }
    }

    static void read(String file, Path cwd, List<String> scripts, List<String> unreadable) {
        if (file == null || file.equals("-")) {
            return; // stdin: judged through the redirect or pipe
        }
        if (Unwrap.dynamic(file)) {
            unreadable.add(file);
            return;
        }
        try {
            scripts.add(Files.readString(cwd.resolve(file), StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            unreadable.add(file);
        }
    }

    static String abbreviate(String s) {
        String one = s.strip().replaceAll("\\s+", " ");
        return one.length() > 80 ? one.substring(0, 77) + "..." : one;
    }
}
