package io.backstop.restore;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.Archive;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An archive's table of contents as {@code pg_restore --create --list} prints it, read into
 * entries: "3202; 1259 16399 INDEX public t_outer postgres". The object type may be several
 * words, so known multi-word types are matched first.
 */
public final class ArchiveToc {
    private static final Pattern LINE = Pattern.compile("^(\\d+); (\\d+) (\\d+) (.*)$");
    /** Multi-word entry types pg_dump writes, longest first so "MATERIALIZED VIEW DATA" wins over "MATERIALIZED VIEW". */
    private static final List<String> MULTI_WORD = java.util.stream.Stream.of(
            "TABLE DATA", "FK CONSTRAINT", "CHECK CONSTRAINT", "DEFAULT ACL", "DATABASE PROPERTIES",
            "MATERIALIZED VIEW DATA", "MATERIALIZED VIEW", "SEQUENCE SET", "SEQUENCE OWNED BY", "LARGE OBJECT",
            "BLOB METADATA", "SHELL TYPE", "PROCEDURAL LANGUAGE", "TEXT SEARCH CONFIGURATION",
            "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE", "FOREIGN TABLE",
            "FOREIGN DATA WRAPPER", "FOREIGN SERVER", "USER MAPPING", "EVENT TRIGGER", "PUBLICATION TABLE",
            "PUBLICATION TABLES IN SCHEMA", "ROW SECURITY", "OPERATOR CLASS", "OPERATOR FAMILY", "ACCESS METHOD",
            "INDEX ATTACH", "TABLE ATTACH", "SECURITY LABEL", "STATISTICS DATA", "SEARCHPATH", "ENCODING",
            "STDSTRINGS").sorted(Comparator.comparingInt(String::length).reversed()).toList();

    /** One entry; {@code schema} is "-" for objects outside schemas. */
    public record Entry(int id, String line, String type, String schema, String tag, String owner) {
        String describe() {
            return type + " " + (schema.equals("-") ? "" : schema + ".") + tag;
        }
    }

    private final Map<Integer, Entry> entries;

    private ArchiveToc(Map<Integer, Entry> entries) {
        this.entries = entries;
    }

    public static ArchiveToc read(PgTools tools, Archive reader, Path archive, Duration timeout) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ProcessRunner runner = new ProcessRunner();
        ProcessRunner.Spec spec = reader.pgRestore(List.of(tools.pgRestore().toString(), "--create",
                "--list"), archive, Map.of(), timeout).withStdout(in -> in.transferTo(out));
        ProcessRunner.Result result = runner.run(spec, p -> { });
        if (result.exitCode() != 0) {
            throw new BackstopException(ExitCode.BAD_BACKUP, archive + " is not a readable pg_dump custom-format archive"
                    + " (pg_restore --list failed with exit code " + result.exitCode() + ")"
                    + (result.stderrTail().isBlank() ? "" : ":\n    " + result.stderrTail().replace("\n", "\n    ")));
        }
        return parse(out.toString(StandardCharsets.UTF_8));
    }

    static ArchiveToc parse(String listing) {
        Map<Integer, Entry> entries = new LinkedHashMap<>();
        for (String line : listing.split("\n")) {
            Matcher m = LINE.matcher(line);
            if (!m.matches()) {
                continue;
            }
            String rest = m.group(4);
            String type = MULTI_WORD.stream().filter(t -> rest.startsWith(t + " ")).findFirst()
                    .orElseGet(() -> rest.contains(" ") ? rest.substring(0, rest.indexOf(' ')) : rest);
            String[] words = rest.substring(Math.min(rest.length(), type.length() + 1)).split(" ");
            String schema = words.length > 0 ? words[0] : "-";
            String owner = words.length > 2 ? words[words.length - 1] : "";
            String tag = words.length > 2 ? String.join(" ", java.util.Arrays.asList(words).subList(1, words.length - 1))
                    : words.length == 2 ? words[1] : "";
            int id = Integer.parseInt(m.group(1));
            entries.put(id, new Entry(id, line, type, schema, tag, owner));
        }
        return new ArchiveToc(entries);
    }

    Optional<Entry> entry(int id) {
        return Optional.ofNullable(entries.get(id));
    }

    /** The DATABASE entry's tag: the database's name when it was dumped. */
    Optional<String> databaseName() {
        return entries.values().stream().filter(e -> e.type().equals("DATABASE")).map(Entry::tag).findFirst();
    }

    /** Entries of one type, in the archive's order ("BLOBS": the large objects' data). */
    public List<Entry> ofType(String type) {
        return entries.values().stream().filter(e -> e.type().equals(type)).toList();
    }

    /**
     * pg_restore of only {@code chosen} (a list file given with --use-list, removed afterwards), with
     * {@code options} before it and its output to {@code stdout}; returns its result for the caller to judge.
     */
    public static ProcessRunner.Result restoreOnly(PgTools tools, Archive reader, Path archive, List<Entry> chosen,
            List<String> options, Duration timeout, ProcessRunner.InputStreamSink stdout) {
        Path list = null;
        try {
            list = Files.createTempFile("backstop-toc-", ".list");
            StringBuilder lines = new StringBuilder();
            chosen.forEach(e -> lines.append(e.line()).append('\n'));
            Files.writeString(list, lines, StandardCharsets.UTF_8);
            List<String> command = new ArrayList<>(List.of(tools.pgRestore().toString()));
            command.addAll(options);
            command.add("--use-list=" + list);
            return new ProcessRunner().run(reader.pgRestore(command, archive, Map.of(), timeout).withStdout(stdout),
                    p -> { });
        } catch (IOException e) {
            throw new BackstopException(ExitCode.STORAGE, "cannot write a temporary pg_restore list file: "
                    + e.getMessage(), e);
        } finally {
            if (list != null) {
                try {
                    Files.deleteIfExists(list);
                } catch (IOException ignored) {
                    // a few bytes in the system's temporary directory, which cleans itself
                }
            }
        }
    }

    /** Entries that describe the database itself: its creation, properties, comment, grants and labels. */
    List<Entry> databaseEntries() {
        List<Entry> out = new ArrayList<>();
        for (Entry e : entries.values()) {
            boolean onDatabase = (e.type().equals("COMMENT") || e.type().equals("ACL") || e.type().equals("SECURITY LABEL"))
                    && e.tag().startsWith("DATABASE ");
            if (e.type().equals("DATABASE") || e.type().equals("DATABASE PROPERTIES") || onDatabase) {
                out.add(e);
            }
        }
        return out;
    }
}
