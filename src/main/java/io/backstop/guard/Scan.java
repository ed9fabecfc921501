package io.backstop.guard;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * {@code backstop guard scan PATH...}: every destructive statement or command in the files a
 * change brings, with its file and line: SQL migrations (plain, Flyway, Prisma), Alembic, Django,
 * Rails, Knex/TypeORM/Sequelize migrations, shell scripts, Makefiles, package.json scripts and CI
 * workflow files. For a pre-commit hook or a CI step ahead of a migration.
 */
public final class Scan {
    /** One destructive thing found. */
    public record Finding(Path file, int line, Verdict verdict) {
        public String describe() {
            return file + ":" + line + ": " + verdict.decision().word() + ": " + verdict.reason()
                    + (verdict.rule() == null ? "" : " (rule " + verdict.rule() + ")");
        }
    }

    private static final Set<String> SKIP_DIRS = Set.of(".git", "node_modules", "target", "build", "dist", "vendor",
            ".venv", "venv", "__pycache__", ".gradle", ".idea");
    private static final Set<String> SHELL_EXT = Set.of(".sh", ".bash", ".zsh", ".ksh");
    /** Migration code: statements that drop tables or columns, and SQL in their strings. */
    private static final Pattern MIGRATION_CODE = Pattern.compile("\\b(op\\.drop_(table|column|index|constraint)"
            + "|op\\.execute|migrations\\.(DeleteModel|RemoveField|RunSQL)|drop_table|remove_column|remove_columns"
            + "|remove_reference|drop_join_table|\\.dropTable(IfExists)?\\(|\\.dropColumns?\\(|\\.dropSchema\\("
            + "|queryInterface\\.(dropTable|removeColumn|dropAllTables|bulkDelete)|\\.truncate\\(|knex\\.raw|\\.query\\()");
    private static final Pattern DROPPING = Pattern.compile("(?i)\\b(op\\.drop_(table|column)|DeleteModel|RemoveField"
            + "|drop_table|remove_columns?|remove_reference|drop_join_table|dropTable(IfExists)?|dropColumns?|dropSchema"
            + "|dropAllTables|truncate)\\b|bulkDelete\\([^,]+,\\s*(null|\\{\\s*\\})");

    private static final Pattern DOWN = Pattern.compile("^\\s*(def\\s+(self\\.)?down(grade)?\\b|(module\\.)?exports\\.down\\b"
            + "|export\\s+(async\\s+)?function\\s+down\\b|(public\\s+)?async\\s+down\\s*\\(|down\\s*:\\s*(async\\b|function\\b|\\())");
    private static final Pattern UP = Pattern.compile("^\\s*(def\\s+(self\\.)?(up|upgrade|change)\\b|(module\\.)?exports\\.up\\b"
            + "|export\\s+(async\\s+)?function\\s+up\\b|(public\\s+)?async\\s+up\\s*\\(|up\\s*:\\s*(async\\b|function\\b|\\()|class\\s)");

    private final Guard guard;

    public Scan(Guard guard) {
        this.guard = guard;
    }

    /** Every finding under {@code paths} (files, or directories walked), in file and line order. */
    public List<Finding> scan(List<Path> paths) throws IOException {
        List<Finding> out = new ArrayList<>();
        for (Path p : paths) {
            if (Files.isDirectory(p)) {
                try (Stream<Path> walk = Files.walk(p)) {
                    for (Path f : walk.filter(Files::isRegularFile).filter(f -> !skipped(p, f)).sorted().toList()) {
                        out.addAll(file(f));
                    }
                }
            } else if (Files.isRegularFile(p)) {
                out.addAll(file(p));
            } else {
                throw new IOException(p + " does not exist");
            }
        }
        out.sort(Comparator.comparing((Finding f) -> f.file().toString()).thenComparingInt(Finding::line));
        return out;
    }

    private static boolean skipped(Path root, Path f) {
        for (Path part : root.relativize(f)) {
            if (SKIP_DIRS.contains(part.toString())) {
                return true;
            }
        }
        return false;
    }

    /** The findings of one file, by what kind of file it is; none for a file of no known kind. */
    List<Finding> file(Path f) throws IOException {
        String name = f.getFileName().toString();
        String lower = name.toLowerCase(java.util.Locale.ROOT);
        String path = f.toString().replace('\\', '/');
        if (Files.size(f) > 4 << 20) {
            return List.of(); // a data dump, not a migration
        }
        String text;
        try {
            text = Files.readString(f, StandardCharsets.UTF_8);
        } catch (java.nio.charset.MalformedInputException e) {
            return List.of(); // binary
        }
        if (lower.endsWith(".sql")) {
            return sql(f, text, 1);
        }
        if (lower.equals("package.json")) {
            return packageJson(f, text);
        }
        if (lower.equals("makefile") || lower.equals("gnumakefile") || lower.endsWith(".mk")) {
            return makefile(f, text);
        }
        if (path.contains("/.github/workflows/") && (lower.endsWith(".yml") || lower.endsWith(".yaml"))
                || lower.equals(".gitlab-ci.yml") || path.endsWith(".circleci/config.yml")
                || lower.equals("bitbucket-pipelines.yml") || lower.equals("azure-pipelines.yml")) {
            return workflow(f, text);
        }
        if (SHELL_EXT.stream().anyMatch(lower::endsWith) || text.startsWith("#!/bin/sh") || text.startsWith("#!/bin/bash")
                || text.startsWith("#!/usr/bin/env bash") || text.startsWith("#!/usr/bin/env sh")) {
            return shell(f, text, 1);
        }
        boolean migrationDir = path.matches(".*/(migrations?|migrate|versions|alembic|db/migrate)/.*");
        if (migrationDir && (lower.endsWith(".py") || lower.endsWith(".rb") || lower.endsWith(".js")
                || lower.endsWith(".ts") || lower.endsWith(".mjs") || lower.endsWith(".cjs"))) {
            return migrationCode(f, text);
        }
        return List.of();
    }

    private List<Finding> sql(Path f, String text, int firstLine) {
        List<Finding> out = new ArrayList<>();
        for (Sql.Statement s : Sql.statementsWithLines(text)) {
            var found = Sql.destructive(s.text());
            found.ifPresent(d -> out.add(new Finding(f, firstLine + s.line() - 1, new Verdict(Decision.ASK,
                    "destructive SQL: " + d[1], d[0], d[1]))));
        }
        return out;
    }

    /** Logical lines: continuations joined, a here-document kept with the command that reads it. */
    private List<Finding> shell(Path f, String text, int firstLine) {
        List<Finding> out = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            int start = i;
            StringBuilder logical = new StringBuilder(lines[i]);
            while (logical.toString().endsWith("\\") && i + 1 < lines.length) {
                logical.append('\n').append(lines[++i]);
            }
            Matcher heredoc = Pattern.compile("<<-?\\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?").matcher(logical);
            if (heredoc.find()) {
                String end = heredoc.group(1);
                while (i + 1 < lines.length && !lines[i].strip().equals(end)) {
                    logical.append('\n').append(lines[++i]);
                }
            }
            String command = logical.toString();
            if (command.isBlank() || command.strip().startsWith("#")) {
                continue;
            }
            Verdict v = guard.classify(command);
            if (v.decision() != Decision.ALLOW) {
                out.add(new Finding(f, firstLine + start, v));
            }
        }
        return out;
    }

    private List<Finding> makefile(Path f, String text) {
        StringBuilder recipes = new StringBuilder();
        for (String line : text.split("\n", -1)) {
            // Recipe lines start with a tab; @, - and + only change how make runs them.
            recipes.append(line.startsWith("\t") ? line.substring(1).replaceFirst("^[@+-]+", "") : "").append('\n');
        }
        return shell(f, recipes.toString(), 1);
    }

    private List<Finding> packageJson(Path f, String text) {
        List<Finding> out = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (Map.Entry<String, String> e : PackageJson.scriptsOf(f).entrySet()) {
            Verdict v = guard.classify(e.getValue());
            if (v.decision() != Decision.ALLOW) {
                int line = 1;
                for (int i = 0; i < lines.length; i++) {
                    if (lines[i].contains("\"" + e.getKey() + "\"")) {
                        line = i + 1;
                        break;
                    }
                }
                out.add(new Finding(f, line, new Verdict(v.decision(), "script \"" + e.getKey() + "\": " + v.reason(),
                        v.rule(), v.matched())));
            }
        }
        return out;
    }

    private static final Pattern RUN = Pattern.compile("^(\\s*)(?:-\\s+)?(run|script|before_script|after_script|command)"
            + "\\s*:\\s*(.*)$");

    /** run: (GitHub, CircleCI), script:/before_script: lists (GitLab, Bitbucket), inline or as blocks. */
    private List<Finding> workflow(Path f, String text) {
        List<Finding> out = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            Matcher m = RUN.matcher(lines[i]);
            if (!m.matches()) {
                continue;
            }
            int indent = m.group(1).length();
            String value = m.group(3).strip();
            if (!value.isEmpty() && !value.startsWith("|") && !value.startsWith(">")) {
                out.addAll(shell(f, unquote(value), i + 1));
                continue;
            }
            // A block (run: |) or a list of commands (script:\n  - cmd): the lines indented below it.
            int k = i + 1;
            StringBuilder block = new StringBuilder();
            int blockStart = k;
            while (k < lines.length && (lines[k].isBlank() || lines[k].length() - lines[k].stripLeading().length() > indent)) {
                String item = lines[k].strip();
                if (value.isEmpty() && item.startsWith("- ")) {
                    out.addAll(shell(f, unquote(item.substring(2).strip()), k + 1));
                    block.append('\n');
                } else {
                    block.append(lines[k].strip()).append('\n');
                }
                k++;
            }
            if (!value.isEmpty()) {
                out.addAll(shell(f, block.toString(), blockStart + 1));
            }
            i = k - 1;
        }
        return out;
    }

    private static String unquote(String v) {
        if (v.length() >= 2 && (v.startsWith("\"") && v.endsWith("\"") || v.startsWith("'") && v.endsWith("'"))) {
            return v.substring(1, v.length() - 1);
        }
        return v;
    }

    private List<Finding> migrationCode(Path f, String text) {
        List<Finding> out = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        boolean down = false;
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            // A down migration drops what its up created: it is the undo, not the change under review.
            if (DOWN.matcher(line).find()) {
                down = true;
            } else if (UP.matcher(line).find()) {
                down = false;
            }
            if (down || !MIGRATION_CODE.matcher(line).find()) {
                continue;
            }
            Matcher dropping = DROPPING.matcher(line);
            if (dropping.find()) {
                out.add(new Finding(f, i + 1, new Verdict(Decision.ASK, "migration drops data: " + line.strip(),
                        "migration-drop", line.strip())));
                continue;
            }
            Verdict sql = Code.judge("migration", line);
            if (sql.decision() != Decision.ALLOW) {
                out.add(new Finding(f, i + 1, sql));
            }
        }
        return out;
    }
}
