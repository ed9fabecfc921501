package io.backstop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Backstop's packages point one way, from the command line down to the configuration. Each package has a
 * layer; a class may use its own package and any package below it, never one above or beside it. The
 * references are read from the sources, imports and inline qualified names alike (comments and strings
 * aside), so that an edge cannot hide in a fully qualified name the import list does not show.
 */
class LayeringTest {
    /**
     * Top to bottom. {@code Main} only starts a run; {@code cli} parses it; {@code app} wires the parts once;
     * {@code http} serves what the {@code schedule} reports; then the verbs, each using only those below it;
     * then the capabilities every verb shares: the backups on disk ({@code catalog}), encryption, PostgreSQL's
     * processes and JDBC, durable files and hashing; then the settings, and the two types every layer throws.
     */
    static final List<String> LAYERS = List.of(
            "Main", "cli", "app", "notify", "http", "schedule", "fleet",
            "recover", "verify", "pitr", "restore", "backup", "offsite", "retention", "counts", "guard",
            "catalog", "crypt", "pg", "files", "config",
            "base");

    /** The classes of the root package that are not {@code Main}: what every layer may throw and return. */
    static final Map<String, String> ROOT_CLASSES = Map.of(
            "Main", "Main", "BackstopException", "base", "ExitCode", "base", "LogConfigurator", "base");

    private static final Path SOURCES = Path.of("src/main/java/io/backstop");
    private static final Pattern PACKAGE = Pattern.compile("^package io\\.backstop(?:\\.([a-z]\\w*))?;", Pattern.MULTILINE);
    private static final Pattern REFERENCE = Pattern.compile("(?<![\\w.])io\\.backstop\\.(?:([a-z]\\w*)\\b|([A-Z]\\w*))");

    record Edge(String file, String from, String to, String reference) {
        @Override
        public String toString() {
            return file + ": " + from + " -> " + to + " (" + reference + ")";
        }
    }

    @Test
    void everyReferenceBetweenPackagesPointsDown() throws IOException {
        List<Edge> upward = new ArrayList<>();
        int files = 0;
        try (Stream<Path> all = Files.walk(SOURCES)) {
            for (Path p : all.filter(f -> f.toString().endsWith(".java")).toList()) {
                files++;
                upward.addAll(upwardEdges(SOURCES.relativize(p).toString(), Files.readString(p)));
            }
        }
        assertThat(files).as("the sources were found").isGreaterThan(100);
        assertThat(upward).as("references against the layer order " + LAYERS).isEmpty();
    }

    @Test
    void everyPackageHasALayer() throws IOException {
        try (Stream<Path> dirs = Files.list(SOURCES)) {
            List<String> packages = dirs.filter(Files::isDirectory).map(d -> d.getFileName().toString()).toList();
            assertThat(LAYERS).as("a new package is given its place in the order").containsAll(packages);
        }
    }

    @Test
    void anUpwardReferenceIsFoundInAnImportAndInAQualifiedName() {
        String imported = """
                package io.backstop.config;

                import io.backstop.catalog.Manifest;

                final class Upward {
                }
                """;
        String inline = """
                package io.backstop.files;

                final class Upward {
                    // io.backstop.offsite.Offsite in a comment is no reference
                    String s = "io.backstop.cli.Main";
                    Object o = io.backstop.offsite.Offsite.class;
                }
                """;
        assertThat(upwardEdges("config/Upward.java", imported))
                .containsExactly(new Edge("config/Upward.java", "config", "catalog", "io.backstop.catalog"));
        assertThat(upwardEdges("files/Upward.java", inline))
                .containsExactly(new Edge("files/Upward.java", "files", "offsite", "io.backstop.offsite"));
    }

    @Test
    void referencesDownwardWithinAndToTheBaseTypesAreAllowed() {
        String source = """
                package io.backstop.backup;

                import io.backstop.BackstopException;
                import io.backstop.catalog.Catalog;

                final class Fine {
                    Object o = io.backstop.files.Durable.class;
                    Object p = io.backstop.backup.Backup.class;
                }
                """;
        assertThat(upwardEdges("backup/Fine.java", source)).isEmpty();
        assertThat(upwardEdges("cli/X.java", "package io.backstop.cli;\nimport io.backstop.Main;\n"))
                .as("Main is above the command line").hasSize(1);
    }

    static List<Edge> upwardEdges(String file, String source) {
        Matcher pkg = PACKAGE.matcher(source);
        if (!pkg.find()) {
            throw new IllegalStateException(file + ": no package io.backstop...");
        }
        String from = pkg.group(1) != null ? pkg.group(1) : ROOT_CLASSES.getOrDefault(fileClass(file), "base");
        List<Edge> edges = new ArrayList<>();
        Matcher ref = REFERENCE.matcher(code(source.substring(pkg.end())));
        while (ref.find()) {
            String to = ref.group(1) != null ? ref.group(1) : ROOT_CLASSES.getOrDefault(ref.group(2), "base");
            if (to.equals(from)) {
                continue;
            }
            int fromLayer = LAYERS.indexOf(from);
            int toLayer = LAYERS.indexOf(to);
            if (fromLayer < 0 || toLayer < 0 || toLayer < fromLayer) {
                edges.add(new Edge(file, from, to, ref.group().replaceAll("\\.$", "")));
            }
        }
        return edges.stream().distinct().toList();
    }

    private static String fileClass(String file) {
        String name = Path.of(file).getFileName().toString();
        return name.substring(0, name.length() - ".java".length());
    }

    /** The source without comments, string literals and text blocks, which name packages without using them. */
    static String code(String source) {
        StringBuilder out = new StringBuilder(source.length());
        int i = 0;
        int n = source.length();
        while (i < n) {
            if (source.startsWith("//", i)) {
                i = indexOrEnd(source, "\n", i);
            } else if (source.startsWith("/*", i)) {
                i = indexOrEnd(source, "*/", i + 2) + 2;
            } else if (source.startsWith("\"\"\"", i)) {
                i = indexOrEnd(source, "\"\"\"", i + 3) + 3;
            } else if (source.charAt(i) == '"' || source.charAt(i) == '\'') {
                char quote = source.charAt(i++);
                while (i < n && source.charAt(i) != quote) {
                    i += source.charAt(i) == '\\' ? 2 : 1;
                }
                i++;
            } else {
                out.append(source.charAt(i++));
            }
        }
        return out.toString();
    }

    private static int indexOrEnd(String s, String what, int from) {
        int at = s.indexOf(what, from);
        return at < 0 ? s.length() : at;
    }
}
