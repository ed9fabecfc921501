package io.backstop.guard;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds destructive calls in a MongoDB shell script (mongosh --eval, a .js file, stdin): dropping a
 * database or collection, and deletes or updates with an empty filter, which touch every
 * document. Strings and comments are blanked first, so a call written inside a string (a log
 * message, a print) is data, as DROP inside an SQL literal is. A filtered delete passes, as a
 * DELETE with a WHERE does.
 */
final class Mongo {
    private static final Pattern DROP_DATABASE = Pattern.compile("\\.\\s*dropDatabase\\s*\\(");
    private static final Pattern DROP = Pattern.compile("\\.\\s*(drop|dropCollection)\\s*\\(");
    private static final Pattern UNFILTERED = Pattern.compile(
            "\\.\\s*(deleteMany|remove|updateMany|replaceMany)\\s*\\(\\s*(\\)|\\{\\s*\\}|''\\s*\\)|null\\s*\\)|undefined\\s*\\))");

    private Mongo() {
    }

    static Optional<String[]> destructive(String script) {
        String code = blank(script);
        Matcher m;
        if ((m = DROP_DATABASE.matcher(code)).find()) {
            return found("mongo-drop-database", script, m);
        }
        if ((m = DROP.matcher(code)).find()) {
            return found("mongo-drop-collection", script, m);
        }
        if ((m = UNFILTERED.matcher(code)).find()) {
            return found("mongo-" + m.group(1).toLowerCase(java.util.Locale.ROOT) + "-unfiltered", script, m);
        }
        return Optional.empty();
    }

    private static Optional<String[]> found(String rule, String script, Matcher m) {
        int from = Math.max(0, script.lastIndexOf(';', m.start()) + 1);
        int to = script.indexOf(';', m.end());
        String shown = script.substring(from, to < 0 ? script.length() : to).strip().replaceAll("\\s+", " ");
        return Optional.of(new String[] {rule, shown.length() > 120 ? shown.substring(0, 117) + "..." : shown});
    }

    /** The script with string contents emptied and comments removed; positions are kept. */
    static String blank(String s) {
        StringBuilder out = new StringBuilder(s.length());
        int i = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (c == '/' && i + 1 < n && s.charAt(i + 1) == '/') {
                while (i < n && s.charAt(i) != '\n') {
                    out.append(' ');
                    i++;
                }
            } else if (c == '/' && i + 1 < n && s.charAt(i + 1) == '*') {
                int end = s.indexOf("*/", i + 2);
                end = end < 0 ? n : end + 2;
                out.append(" ".repeat(end - i));
                i = end;
            } else if (c == '\'' || c == '"' || c == '`') {
                out.append(c);
                int j = i + 1;
                while (j < n && s.charAt(j) != c) {
                    j += s.charAt(j) == '\\' ? 2 : 1;
                }
                if (j - i - 1 > 0) {
                    out.append(" ".repeat(Math.min(n, j) - i - 1));
                }
                if (j < n) {
                    out.append(c);
                }
                i = j + 1;
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }
}
