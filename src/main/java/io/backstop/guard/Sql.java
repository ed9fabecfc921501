package io.backstop.guard;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds destructive SQL: splits a script into statements (respecting quotes, dollar quotes and
 * comments) and judges each. Destructive: DROP DATABASE|SCHEMA|TABLE, TRUNCATE, DELETE or
 * UPDATE without WHERE, ALTER TABLE ... DROP COLUMN. Everything else (SELECT, INSERT, DDL that
 * adds) passes.
 */
final class Sql {
    private static final Pattern DROP = Pattern.compile("^DROP\\s+(DATABASE|SCHEMA|TABLE)\\b");
    private static final Pattern TRUNCATE = Pattern.compile("^TRUNCATE\\b");
    private static final Pattern DELETE = Pattern.compile("^(WITH\\b.*?\\)\\s*)?DELETE\\s+FROM\\b");
    private static final Pattern UPDATE = Pattern.compile("^(WITH\\b.*?\\)\\s*)?UPDATE\\b.*\\bSET\\b");
    private static final Pattern WHERE = Pattern.compile("\\bWHERE\\b");
    private static final Pattern DROP_COLUMN = Pattern.compile("^ALTER\\s+TABLE\\b.*\\bDROP\\s+(COLUMN\\b|(?!CONSTRAINT\\b|DEFAULT\\b|NOT\\b|IDENTITY\\b|EXPRESSION\\b)\\w)");

    private Sql() {
    }

    /** The first destructive statement's rule and text, if any. */
    static Optional<String[]> destructive(String script) {
        for (String statement : statements(script)) {
            String norm = statement.replaceAll("\\s+", " ").strip().toUpperCase(Locale.ROOT);
            String rule = null;
            Matcher drop = DROP.matcher(norm);
            if (drop.find()) {
                rule = "sql-drop-" + drop.group(1).toLowerCase(Locale.ROOT);
            } else if (TRUNCATE.matcher(norm).find()) {
                rule = "sql-truncate";
            } else if (DELETE.matcher(norm).find() && !WHERE.matcher(norm).find()) {
                rule = "sql-delete-without-where";
            } else if (UPDATE.matcher(norm).find() && !WHERE.matcher(norm).find()) {
                rule = "sql-update-without-where";
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

    /** Statements with comments removed and string literals blanked (so 'DROP TABLE' in a string is data). */
    static List<String> statements(String script) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        int i = 0;
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
                out.add(cur.toString());
                cur.setLength(0);
                i++;
            } else if (c == '\\' && (cur.toString().isBlank())) {
                // psql meta-command (\d, \dt, \i file): to the end of the line
                while (i < n && script.charAt(i) != '\n') {
                    i++;
                }
            } else {
                cur.append(c);
                i++;
            }
        }
        if (!cur.toString().isBlank()) {
            out.add(cur.toString());
        }
        return out;
    }
}
