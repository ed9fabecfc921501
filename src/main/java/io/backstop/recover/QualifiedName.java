package io.backstop.recover;

import java.util.Optional;

/**
 * A table's schema and name, raw (as pg_restore's -n and -t want them) and as the server quotes
 * them ({@code format('%I.%I')}, as manifests and SQL use them).
 */
record QualifiedName(String schema, String table) {
    /** Splits a server-quoted or plain "schema.table"; quotes are read as SQL reads them. */
    static Optional<QualifiedName> parse(String text) {
        StringBuilder part = new StringBuilder();
        String schema = null;
        boolean quoted = false;
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i);
            if (ch == '"') {
                if (quoted && i + 1 < text.length() && text.charAt(i + 1) == '"') {
                    part.append('"');
                    i++;
                } else {
                    quoted = !quoted;
                }
            } else if (ch == '.' && !quoted && schema == null) {
                schema = part.toString();
                part.setLength(0);
            } else {
                part.append(ch);
            }
        }
        if (quoted || part.length() == 0) {
            return Optional.empty();
        }
        return Optional.of(new QualifiedName(schema == null ? "public" : schema, part.toString()));
    }

    String sql() {
        return quote(schema) + "." + quote(table);
    }

    static String quote(String identifier) {
        return identifier.matches("[a-z_][a-z0-9_$]*") ? identifier : "\"" + identifier.replace("\"", "\"\"") + "\"";
    }

    @Override
    public String toString() {
        return sql();
    }
}
