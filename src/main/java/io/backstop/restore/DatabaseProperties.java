package io.backstop.restore;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.Archive;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import java.io.ByteArrayOutputStream;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What an archive says about the database itself, as pg_restore --create would apply it:
 * {@code CREATE DATABASE ... TEMPLATE = template0 ENCODING ... LOCALE ...}, the owner,
 * {@code ALTER DATABASE ... SET}, {@code ALTER ROLE ... IN DATABASE ... SET}, the comment,
 * grants and security labels. Read with pg_restore itself (no guessing at the archive format)
 * and applied under any database name, so {@code restore --into other} and drills recreate the
 * database as it was, not as {@code template1} and the server's defaults would have it.
 */
public final class DatabaseProperties {
    private static final Pattern DOLLAR_TAG = Pattern.compile("\\$[A-Za-z_][A-Za-z0-9_]*\\$|\\$\\$");
    private static final Pattern CLIENT_ENCODING = Pattern.compile("SET client_encoding = '([^']+)';");
    private static final Pattern CREATE = Pattern.compile("(?is)^CREATE\\s+DATABASE\\b.*");
    private static final Pattern OWNER = Pattern.compile("(?is)^ALTER\\s+DATABASE\\s+.*\\s+OWNER\\s+TO\\s+(.+)$");
    private static final Pattern ABOUT_DATABASE = Pattern.compile(
            "(?is)^(ALTER\\s+DATABASE|ALTER\\s+ROLE\\s+.+\\s+IN\\s+DATABASE|COMMENT\\s+ON\\s+DATABASE|GRANT\\s+.+\\s+ON\\s+DATABASE"
                    + "|REVOKE\\s+.+\\s+ON\\s+DATABASE|SECURITY\\s+LABEL\\s+.+\\s+ON\\s+DATABASE)\\b.*");

    private final String originalName;
    private final Optional<String> create;
    private final List<String> afterRestore;

    private DatabaseProperties(String originalName, Optional<String> create, List<String> afterRestore) {
        this.originalName = originalName;
        this.create = create;
        this.afterRestore = List.copyOf(afterRestore);
    }

    /** Reads the database entries of {@code archive}; an archive without them (an old pg_dump) gives none. */
    public static DatabaseProperties read(PgTools tools, Archive reader, Path archive, Duration timeout) {
        ArchiveToc toc = ArchiveToc.read(tools, reader, archive, timeout);
        Optional<String> name = toc.databaseName();
        if (name.isEmpty()) {
            return new DatabaseProperties("", Optional.empty(), List.of());
        }
        ByteArrayOutputStream script = new ByteArrayOutputStream();
        ProcessRunner.Result result = ArchiveToc.restoreOnly(tools, reader, archive, toc.databaseEntries(),
                List.of("--create", "--file=-"), timeout, in -> in.transferTo(script));
        if (result.exitCode() != 0) {
            throw new BackstopException(ExitCode.BAD_BACKUP, "cannot read the database properties of " + archive
                    + " (pg_restore exit code " + result.exitCode() + "):\n    " + result.stderrTail());
        }
        return parse(name.get(), script.toByteArray());
    }

    /** Parses pg_restore's script, which is written in the archive's encoding (its SET client_encoding). */
    static DatabaseProperties parse(String originalName, byte[] script) {
        String ascii = new String(script, StandardCharsets.ISO_8859_1);
        Matcher enc = CLIENT_ENCODING.matcher(ascii);
        Charset charset = enc.find() ? charsetOf(enc.group(1)) : StandardCharsets.UTF_8;
        Optional<String> create = Optional.empty();
        List<String> after = new ArrayList<>();
        List<String> owner = new ArrayList<>();
        for (String statement : statements(new String(script, charset))) {
            if (CREATE.matcher(statement).matches()) {
                create = Optional.of(statement);
            } else if (OWNER.matcher(statement).matches()) {
                owner.add(statement);
            } else if (ABOUT_DATABASE.matcher(statement).matches()) {
                after.add(statement);
            }
        }
        owner.addAll(after); // the owner first: grants pg_dump wrote are relative to it
        return new DatabaseProperties(originalName, create, owner);
    }

    boolean present() {
        return create.isPresent();
    }

    /** {@code CREATE DATABASE} for {@code quotedName} as the archive describes it; a plain one from template0 when absent. */
    String createStatement(String quotedName) {
        return create.map(c -> rename(c, quotedName)).orElse("CREATE DATABASE " + quotedName + " TEMPLATE template0");
    }

    /**
     * Applies owner, settings, role settings, comment and grants to {@code quotedName}, each on
     * its own; returns a note for every one the server refused (a role that does not exist here).
     */
    List<String> apply(Connection c, String quotedName) {
        List<String> notes = new ArrayList<>();
        for (String statement : afterRestore) {
            String sql = rename(statement, quotedName);
            try (Statement st = c.createStatement()) {
                st.execute(sql);
            } catch (SQLException e) {
                notes.add("not applied: " + oneLine(sql) + " (" + oneLine(e.getMessage()) + ")"
                        + ("42704".equals(e.getSQLState()) ? "; create the role on this server and run it by hand" : ""));
            }
        }
        return notes;
    }

    /** Replaces the database name that follows the first DATABASE keyword (quoted or not, as pg_dump wrote it). */
    String rename(String statement, String quotedName) {
        String quoted = "\"" + originalName.replace("\"", "\"\"") + "\"";
        for (String form : List.of(quoted, originalName)) {
            Matcher m = Pattern.compile("(?i)\\bDATABASE\\s+" + Pattern.quote(form) + "(?=[\\s;]|$)").matcher(statement);
            if (m.find()) {
                return statement.substring(0, m.start()) + "DATABASE " + quotedName + statement.substring(m.end());
            }
        }
        return statement;
    }

    private static String oneLine(String s) {
        String flat = String.valueOf(s).replaceAll("\\s+", " ").strip();
        return flat.length() > 200 ? flat.substring(0, 200) + "..." : flat;
    }

    /**
     * Splits a pg_restore or pg_dump script into statements: semicolons outside quotes, dollar
     * quotes, identifiers and comments end one; psql meta-commands (backslash lines) are dropped.
     */
    public static List<String> statements(String script) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        int i = 0;
        int n = script.length();
        while (i < n) {
            char ch = script.charAt(i);
            if (current.toString().isBlank() && ch == '\\') {
                int eol = script.indexOf('\n', i);
                i = eol < 0 ? n : eol + 1;
                current.setLength(0);
                continue;
            }
            if (ch == '-' && i + 1 < n && script.charAt(i + 1) == '-') {
                int eol = script.indexOf('\n', i);
                i = eol < 0 ? n : eol + 1;
                current.append('\n');
                continue;
            }
            if (ch == '$') {
                java.util.regex.Matcher tag = DOLLAR_TAG.matcher(script).region(i, n);
                if (tag.lookingAt()) {
                    int end = script.indexOf(tag.group(), tag.end());
                    end = end < 0 ? n : end + tag.group().length();
                    current.append(script, i, end);
                    i = end;
                    continue;
                }
            }
            if (ch == '\'' || ch == '"') {
                int end = i + 1;
                while (end < n) {
                    if (script.charAt(end) == ch) {
                        if (end + 1 < n && script.charAt(end + 1) == ch) {
                            end += 2;
                            continue;
                        }
                        break;
                    }
                    end++;
                }
                current.append(script, i, Math.min(n, end + 1));
                i = end + 1;
                continue;
            }
            if (ch == ';') {
                String s = current.toString().strip();
                if (!s.isEmpty()) {
                    out.add(s);
                }
                current.setLength(0);
                i++;
                continue;
            }
            current.append(ch);
            i++;
        }
        return out;
    }

    /** PostgreSQL encoding names → Java charsets, for the encodings a server-side database can have. */
    public static Charset charsetOf(String pgEncoding) {
        String e = pgEncoding.toUpperCase(Locale.ROOT).replace("-", "_");
        String java = switch (e) {
            case "UTF8", "UNICODE" -> "UTF-8";
            case "SQL_ASCII" -> "ISO-8859-1";
            case "LATIN1" -> "ISO-8859-1";
            case "LATIN2" -> "ISO-8859-2";
            case "LATIN3" -> "ISO-8859-3";
            case "LATIN4" -> "ISO-8859-4";
            case "LATIN5" -> "ISO-8859-9";
            case "LATIN6" -> "ISO-8859-10";
            case "LATIN7" -> "ISO-8859-13";
            case "LATIN8" -> "ISO-8859-14";
            case "LATIN9" -> "ISO-8859-15";
            case "LATIN10" -> "ISO-8859-16";
            case "ISO_8859_5" -> "ISO-8859-5";
            case "ISO_8859_6" -> "ISO-8859-6";
            case "ISO_8859_7" -> "ISO-8859-7";
            case "ISO_8859_8" -> "ISO-8859-8";
            case "KOI8R", "KOI8" -> "KOI8-R";
            case "KOI8U" -> "KOI8-U";
            case "WIN866" -> "IBM866";
            case "WIN874" -> "x-windows-874";
            case "EUC_JP", "EUC_JIS_2004" -> "EUC-JP";
            case "EUC_KR" -> "EUC-KR";
            case "EUC_CN" -> "GB2312";
            case "EUC_TW" -> "x-EUC-TW";
            default -> e.startsWith("WIN") ? "windows-" + e.substring(3) : e;
        };
        try {
            return Charset.forName(java);
        } catch (IllegalArgumentException ex) {
            throw new BackstopException(ExitCode.BAD_BACKUP, "the archive's database encoding " + pgEncoding
                    + " has no Java character set; restore it with pg_restore --create");
        }
    }
}
