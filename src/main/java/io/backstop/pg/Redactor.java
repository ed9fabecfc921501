package io.backstop.pg;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Masks secrets where they stand as secrets: the value of a {@code password=} (or
 * {@code PGPASSWORD=}, {@code "password": ...}) setting, and the password part of a
 * {@code scheme://user:password@host} URI. Never a search-and-replace of the password's
 * characters: that garbled {@code pg_restore: error:} when the password was "error", mangled
 * words around a one-letter password, and told a reader which characters the password has.
 */
public final class Redactor {
    public static final String MASK = "****";
    private static final Pattern KEY_VALUE = Pattern.compile(
            "(?i)(\\b(?:pg)?password\"?\\s*[=:]\\s*)('(?:[^'\\\\]|\\\\.|'')*'|\"(?:[^\"\\\\]|\\\\.)*\"|[^\\s,;&)}\\]]+)");
    private static final Pattern URI_PASSWORD = Pattern.compile(
            "(?i)(\\b[a-z][a-z0-9+.-]*://[^\\s/:@]*:)([^\\s/@]+)(@)");

    private Redactor() {
    }

    public static String redact(String text) {
        if (text == null) {
            return "";
        }
        String out = replace(KEY_VALUE, text, m -> m.group(1) + quoteLike(m.group(2)));
        return replace(URI_PASSWORD, out, m -> m.group(1) + MASK + m.group(3));
    }

    private static String quoteLike(String value) {
        char first = value.charAt(0);
        return first == '\'' || first == '"' ? first + MASK + first : MASK;
    }

    private static String replace(Pattern p, String text, java.util.function.Function<Matcher, String> with) {
        Matcher m = p.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(out, Matcher.quoteReplacement(with.apply(m)));
        }
        m.appendTail(out);
        return out.toString();
    }
}
