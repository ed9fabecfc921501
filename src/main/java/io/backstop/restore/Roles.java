package io.backstop.restore;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.Archive;
import io.backstop.pg.Database;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts a globals file ({@code pg_dumpall --globals-only}, taken beside each dump) onto a server before a
 * restore: the roles it lacks are created with their attributes, password hashes, settings and comments,
 * and the memberships of those roles granted; a role that exists is never altered (it is named instead),
 * nor is a membership of one granted. Per-database settings wait until their database exists
 * ({@link #applyDatabaseSettings}). Tablespaces are created where missing; one whose directory the
 * server lacks is named with the server's reason. Each statement runs on its own savepoint: one that
 * fails is reported and the rest go on.
 */
public final class Roles {
    private static final Logger log = LoggerFactory.getLogger(Roles.class);
    private static final String IDENT = "(\"(?:[^\"]|\"\")+\"|[A-Za-z_][A-Za-z0-9_$]*)";
    private static final Pattern CREATE_ROLE = Pattern.compile("CREATE ROLE " + IDENT + ";", Pattern.DOTALL);
    private static final Pattern ALTER_ROLE = Pattern.compile("ALTER ROLE " + IDENT + " (.*)", Pattern.DOTALL);
    private static final Pattern IN_DATABASE = Pattern.compile("IN DATABASE " + IDENT + " .*", Pattern.DOTALL);
    private static final Pattern COMMENT = Pattern.compile("(?:COMMENT|SECURITY LABEL(?: FOR \\S+)?) ON ROLE " + IDENT
            + " .*", Pattern.DOTALL);
    private static final Pattern GRANT = Pattern.compile("GRANT " + IDENT + " TO " + IDENT + "(.*);", Pattern.DOTALL);
    private static final Pattern GRANTED_BY = Pattern.compile(" GRANTED BY " + IDENT);
    private static final Pattern TABLESPACE = Pattern.compile("CREATE TABLESPACE " + IDENT + " .*", Pattern.DOTALL);
    private static final Pattern ON_TABLESPACE = Pattern.compile("(?:ALTER|GRANT|REVOKE|COMMENT ON) .*TABLESPACE "
            + IDENT + ".*", Pattern.DOTALL);

    /** What a globals file did to a server. */
    public record Applied(List<String> created, List<String> leftAsIs, int memberships, int settings,
            List<String> tablespaces, List<String> failed, List<String> databaseSettings) {
        public String describe() {
            return "created " + (created.isEmpty() ? "none" : String.join(", ", created))
                    + "; left as they are (they exist here): " + (leftAsIs.isEmpty() ? "none" : String.join(", ", leftAsIs))
                    + "; " + memberships + " memberships, " + settings + " role settings"
                    + (tablespaces.isEmpty() ? "" : "; tablespaces created: " + String.join(", ", tablespaces))
                    + (failed.isEmpty() ? "" : "; " + failed.size() + " statements failed");
        }
    }

    private Roles() {
    }

    /** The statements of a globals file, plain or encrypted (then read with {@code reader}'s identity). */
    static List<String> statements(Archive reader, Path globals) {
        try (InputStream in = reader.decompressed(globals)) {
            return split(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new BackstopException(ExitCode.BAD_BACKUP, "cannot read the globals file " + globals + ": "
                    + e.getMessage(), e);
        }
    }

    /** Statements ending in ';' outside quotes; comment lines dropped. */
    static List<String> split(String sql) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean single = false;
        boolean dbl = false;
        for (String line : sql.split("\n", -1)) {
            // Comments, and psql's meta-commands (\\restrict and \\unrestrict since 17.6, 16.10, 15.14, 14.19, 13.22).
            if (!single && !dbl && cur.length() == 0 && (line.isBlank() || line.startsWith("--")
                    || line.startsWith("\\"))) {
                continue;
            }
            for (int i = 0; i < line.length(); i++) {
                char ch = line.charAt(i);
                cur.append(ch);
                if (ch == '\'' && !dbl) {
                    single = !single;
                } else if (ch == '"' && !single) {
                    dbl = !dbl;
                } else if (ch == ';' && !single && !dbl) {
                    out.add(cur.toString().strip());
                    cur.setLength(0);
                }
            }
            if (cur.length() > 0) {
                cur.append('\n');
            }
        }
        return out;
    }

    static String unquote(String ident) {
        return ident.startsWith("\"") ? ident.substring(1, ident.length() - 1).replace("\"\"", "\"") : ident
                .toLowerCase(Locale.ROOT);
    }

    /** Applies {@code globals} on the server {@code db} reaches (through its maintenance database). */
    public static Applied apply(Database db, Archive reader, Path globals) {
        List<String> statements = statements(reader, globals);
        List<String> created = new ArrayList<>();
        Set<String> leftAsIs = new LinkedHashSet<>();
        List<String> failed = new ArrayList<>();
        List<String> tablespaces = new ArrayList<>();
        List<String> perDatabase = new ArrayList<>();
        int memberships = 0;
        int settings = 0;
        try (Connection c = maintenance(db)) {
            Set<String> roles = names(c, "SELECT rolname FROM pg_roles");
            Set<String> spaces = names(c, "SELECT spcname FROM pg_tablespace");
            Set<String> mine = new HashSet<>();
            c.setAutoCommit(false);
            for (String st : statements) {
                Matcher m;
                if (st.startsWith("SET client_encoding")) {
                    continue; // the file was read as UTF-8, and the JDBC driver closes a connection whose encoding changes
                } else if (st.startsWith("SET ")) {
                    run(c, st, failed);
                } else if ((m = CREATE_ROLE.matcher(st)).matches()) {
                    String role = unquote(m.group(1));
                    if (roles.contains(role)) {
                        leftAsIs.add(role);
                    } else if (run(c, st, failed)) {
                        mine.add(role);
                        created.add(role);
                    }
                } else if ((m = ALTER_ROLE.matcher(st)).matches()) {
                    String role = unquote(m.group(1));
                    if (IN_DATABASE.matcher(m.group(2)).matches()) {
                        if (mine.contains(role)) {
                            perDatabase.add(st);
                        }
                    } else if (mine.contains(role) && run(c, st, failed) && m.group(2).startsWith("SET ")) {
                        settings++;
                    }
                } else if ((m = COMMENT.matcher(st)).matches()) {
                    if (mine.contains(unquote(m.group(1)))) {
                        run(c, st, failed);
                    }
                } else if ((m = GRANT.matcher(st)).matches()) {
                    if (mine.contains(unquote(m.group(2)))) {
                        // The grantor may be a role this server lacks: the membership matters, not who granted it.
                        if (run(c, st, null) || run(c, GRANTED_BY.matcher(st).replaceAll(""), failed)) {
                            memberships++;
                        }
                    }
                } else if ((m = TABLESPACE.matcher(st)).matches()) {
                    String space = unquote(m.group(1));
                    if (!spaces.contains(space)) {
                        c.commit();
                        c.setAutoCommit(true); // CREATE TABLESPACE cannot run in a transaction block
                        if (run(c, st, failed)) {
                            tablespaces.add(space);
                        }
                        c.setAutoCommit(false);
                    }
                } else if ((m = ON_TABLESPACE.matcher(st)).matches()) {
                    if (tablespaces.contains(unquote(m.group(1)))) {
                        run(c, st, failed);
                    }
                } else {
                    log.info("restore --with-roles: left out a statement of a kind it does not apply: {}",
                            st.length() > 80 ? st.substring(0, 80) + "..." : st);
                }
            }
            c.commit();
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "restore --with-roles: cannot apply "
                    + globals.getFileName() + " on the server: " + e.getMessage(), e);
        }
        Applied applied = new Applied(created, List.copyOf(leftAsIs), memberships, settings, tablespaces, failed,
                perDatabase);
        log.info("restore --with-roles from {}: {}", globals.getFileName(), applied.describe());
        return applied;
    }

    /** The per-database settings of the roles {@link #apply} created, for database {@code name}, once it exists. */
    public static List<String> applyDatabaseSettings(Database db, Applied applied, String name) {
        List<String> failed = new ArrayList<>();
        try (Connection c = maintenance(db)) {
            for (String st : applied.databaseSettings()) {
                Matcher m = ALTER_ROLE.matcher(st);
                if (m.matches()) {
                    Matcher in = IN_DATABASE.matcher(m.group(2));
                    if (in.matches() && unquote(in.group(1)).equals(name)) {
                        run(c, st, failed);
                    }
                }
            }
        } catch (SQLException e) {
            failed.add("per-database settings of " + name + ": " + e.getMessage());
        }
        return failed;
    }

    private static Connection maintenance(Database db) {
        try {
            return db.connect("postgres");
        } catch (BackstopException e) {
            return db.connect("template1");
        }
    }

    private static Set<String> names(Connection c, String sql) throws SQLException {
        Set<String> out = new HashSet<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    /** Runs one statement on a savepoint (autocommit: as is); a failure is added to {@code failed} (when given). */
    private static boolean run(Connection c, String sql, List<String> failed) throws SQLException {
        Savepoint sp = c.getAutoCommit() ? null : c.setSavepoint();
        try (Statement st = c.createStatement()) {
            st.execute(sql);
            if (sp != null) {
                c.releaseSavepoint(sp);
            }
            return true;
        } catch (SQLException e) {
            if (sp != null) {
                c.rollback(sp);
            }
            if (failed != null) {
                // Never the statement itself: it may hold a password hash.
                String what = sql.replaceAll("PASSWORD '[^']*'", "PASSWORD '****'");
                failed.add((what.length() > 100 ? what.substring(0, 100) + "..." : what) + ": " + e.getMessage());
            }
            return false;
        }
    }
}
