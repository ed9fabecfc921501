package io.backstop.guard;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds destructive SQL: splits a script into statements (respecting quotes, dollar quotes and
 * comments) and judges each, for PostgreSQL and the other engines' SQL alike. Destructive: DROP
 * of a database, schema, table, view, sequence, type, extension, trigger or function (DROP
 * INDEX loses no data), TRUNCATE, DELETE or UPDATE without a WHERE or with an always-true one,
 * ALTER TABLE ... DROP COLUMN. Everything else (SELECT, INSERT, DDL that adds) passes.
 */
final class Sql {
    /** Objects that hold data, or whose loss takes data or its protection with it (CASCADE, triggers). */
    private static final Pattern DROP = Pattern.compile("^DROP\\s+(DATABASE|SCHEMA|TABLE|MATERIALIZED VIEW|VIEW|SEQUENCE"
            + "|TYPE|DOMAIN|EXTENSION|OWNED|TRIGGER|FUNCTION|PROCEDURE|COLLECTION|KEYSPACE)\\b");
    private static final Pattern TRUNCATE = Pattern.compile("^TRUNCATE\\b");
    private static final Pattern DELETE = Pattern.compile("^(WITH\\b.*?\\)\\s*)?DELETE\\s+FROM\\b");
    private static final Pattern UPDATE = Pattern.compile("^(WITH\\b.*?\\)\\s*)?UPDATE\\b.*\\bSET\\b");
    private static final Pattern WHERE = Pattern.compile("\\bWHERE\\b");
    private static final Pattern DROP_COLUMN = Pattern.compile("^ALTER\\s+TABLE\\b.*\\bDROP\\s+(COLUMN\\b|(?!CONSTRAINT\\b|DEFAULT\\b|NOT\\b|IDENTITY\\b|EXPRESSION\\b)\\w)");

    private Sql() {
    }

    /** psql meta-commands that run SQL the script does not show (another file, query results as SQL). */
    private static final Pattern HIDDEN_META = Pattern.compile("(?m)(^|[;\\s])\\\\(i|ir|include|include_relative|gexec)\\b");
    private static final Pattern DO_BLOCK = Pattern.compile("(?is)\\bDO\\s+(?:LANGUAGE\\s+\\w+\\s+)?(\\$[A-Za-z_]*\\$)(.*?)\\1");
    private static final Pattern EXECUTE = Pattern.compile("(?i)\\bEXECUTE\\b");

    /** Why part of the script cannot be seen: \\i of another file, \\gexec, or a DO block that EXECUTEs built SQL. */
    static Optional<String> unseen(String script) {
        Matcher meta = HIDDEN_META.matcher(script);
        if (meta.find()) {
            return Optional.of("\\" + meta.group(2) + " runs SQL from elsewhere (a file, or a query's results)");
        }
        Matcher block = DO_BLOCK.matcher(script);
        while (block.find()) {
            if (EXECUTE.matcher(block.group(2)).find()) {
                return Optional.of("a DO block EXECUTEs SQL it builds at run time");
            }
        }
        return Optional.empty();
    }

    /** The first destructive statement's rule and text, if any (a DO block's own statements included). */
    static Optional<String[]> destructive(String script) {
        Matcher block = DO_BLOCK.matcher(script);
        while (block.find()) {
            Optional<String[]> inside = destructive(block.group(2).replaceAll("(?is)^\\s*(DECLARE\\b.*?)?\\bBEGIN\\b", "")
                    .replaceAll("(?is)\\bEND\\s*;?\\s*$", ""));
            if (inside.isPresent()) {
                return inside;
            }
        }
        for (String statement : statements(script)) {
            String norm = statement.replaceAll("\\s+", " ").strip().toUpperCase(Locale.ROOT);
            String rule = null;
            Matcher drop = DROP.matcher(norm);
            if (drop.find()) {
                rule = "sql-drop-" + drop.group(1).toLowerCase(Locale.ROOT).replace(' ', '-');
            } else if (TRUNCATE.matcher(norm).find()) {
                rule = "sql-truncate";
            } else if (DELETE.matcher(norm).find() && !filters(norm)) {
                rule = WHERE.matcher(norm).find() ? "sql-delete-where-always-true" : "sql-delete-without-where";
            } else if (UPDATE.matcher(norm).find() && !filters(norm)) {
                rule = WHERE.matcher(norm).find() ? "sql-update-where-always-true" : "sql-update-without-where";
            } else if (DROP_COLUMN.matcher(norm).find()) {
                rule = "sql-alter-table-drop-column";
            }
            if (rule != null) {
                String shown = statement.strip().replaceAll("\\s+", " ");
                return Optional.of(new String[] {rule, shown.length() > 120 ? shown.substring(0, 117) + "..." : shown});
            }
        }
        return Optional.empty();
    }

    private static final Pattern WHERE_CLAUSE = Pattern.compile("\\bWHERE\\b(.*?)(\\bRETURNING\\b|\\bORDER\\s+BY\\b|\\bLIMIT\\b|$)");
    private static final Pattern SAME_BOTH_SIDES = Pattern.compile("^(\\S+)\\s*(=|==|IS NOT DISTINCT FROM)\\s*(\\S+)$");
    private static final Pattern NUMBERS_COMPARED = Pattern.compile("^(-?\\d+)\\s*(<>|!=|<|>|<=|>=)\\s*(-?\\d+)$");

    /** Whether a DELETE/UPDATE (normalised: upper case, one space) has a WHERE that can be false for some row. */
    static boolean filters(String norm) {
        Matcher where = WHERE_CLAUSE.matcher(norm);
        if (!where.find()) {
            return false;
        }
        for (String disjunct : where.group(1).split("\\bOR\\b")) {
            if (alwaysTrue(disjunct.strip())) {
                return false;
            }
        }
        return true;
    }

    /** Literal tautologies: TRUE, 1, NOT FALSE, x = x, 1 <> 0, 2 > 1 (after string contents were blanked). */
    static boolean alwaysTrue(String expr) {
        String e = expr;
        while (e.startsWith("(") && e.endsWith(")")) {
            e = e.substring(1, e.length() - 1).strip();
        }
        if (e.equals("TRUE") || e.equals("1") || e.equals("NOT FALSE") || e.equals("'T'") || e.equals("'1'")) {
            return true;
        }
        Matcher same = SAME_BOTH_SIDES.matcher(e);
        if (same.matches() && same.group(1).equals(same.group(3))) {
            return true;
        }
        Matcher numbers = NUMBERS_COMPARED.matcher(e);
        if (numbers.matches()) {
            long a = Long.parseLong(numbers.group(1));
            long b = Long.parseLong(numbers.group(3));
            return switch (numbers.group(2)) {
                case "<>", "!=" -> a != b;
                case "<" -> a < b;
                case ">" -> a > b;
                case "<=" -> a <= b;
                default -> a >= b;
            };
        }
        return false;
    }

    /** A statement and the line (1-based) it starts on. */
    record Statement(int line, String text) {
    }

    /** {@link #statements} with the line each starts on, for a scan's findings. */
    static List<Statement> statementsWithLines(String script) {
        List<Statement> out = new ArrayList<>();
        List<Integer> starts = new ArrayList<>();
        List<String> texts = statements(script, starts);
        for (int k = 0; k < texts.size(); k++) {
            int offset = starts.get(k);
            int line = 1;
            for (int i = 0; i < offset && i < script.length(); i++) {
                if (script.charAt(i) == '\n') {
                    line++;
                }
            }
            out.add(new Statement(line, texts.get(k)));
        }
        return out;
    }

    /** Statements with comments removed and string literals blanked (so 'DROP TABLE' in a string is data). */
    static List<String> statements(String script) {
        return statements(script, new ArrayList<>());
    }

    private static List<String> statements(String script, List<Integer> starts) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        int i = 0;
        int start = 0;
        int n = script.length();
        while (i < n) {
            char c = script.charAt(i);
            if (c == '-' && i + 1 < n && script.charAt(i + 1) == '-') {
                while (i < n && script.charAt(i) != '\n') {
                    i++;
                }
            } else if (c == '/' && i + 1 < n && script.charAt(i + 1) == '*') {
                int end = script.indexOf("*/", i + 2);
                i = end < 0 ? n : end + 2;
                cur.append(' ');
            } else if (c == '\'') {
                int j = i + 1;
                while (j < n && !(script.charAt(j) == '\'' && (j + 1 >= n || script.charAt(j + 1) != '\''))) {
                    j += script.charAt(j) == '\'' ? 2 : 1;
                }
                cur.append("''");
                i = j + 1;
            } else if (c == '"') {
                int end = script.indexOf('"', i + 1);
                end = end < 0 ? n - 1 : end;
                cur.append(script, i, end + 1);
                i = end + 1;
            } else if (c == '$') {
                Matcher tag = Pattern.compile("\\$[A-Za-z_]*\\$").matcher(script).region(i, n);
                if (tag.lookingAt()) {
                    int end = script.indexOf(tag.group(), tag.end());
                    cur.append("''");
                    i = end < 0 ? n : end + tag.group().length();
                } else {
                    cur.append(c);
                    i++;
                }
            } else if (c == ';') {
                if (!cur.toString().isBlank()) {
                    out.add(cur.toString());
                    starts.add(start);
                }
                cur.setLength(0);
                i++;
            } else if (c == '\\' && (cur.toString().isBlank())) {
                // psql meta-command (\d, \dt, \i file): to the end of the line
                while (i < n && script.charAt(i) != '\n') {
                    i++;
                }
            } else {
                if (cur.toString().isBlank() && !Character.isWhitespace(c)) {
                    start = i;
                }
                cur.append(c);
                i++;
            }
        }
        if (!cur.toString().isBlank()) {
            out.add(cur.toString());
            starts.add(start);
        }
        return out;
    }
}
