package io.backstop.pg;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.config.Settings.Target;
import io.backstop.files.Sweep;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;
import org.postgresql.ds.PGSimpleDataSource;
import org.postgresql.util.PSQLException;

/**
 * How Backstop reaches one target: JDBC connections for itself, and the libpq environment
 * for pg_dump and pg_restore. The password goes to JDBC as a property and to the tools
 * through a private PGPASSFILE; never through argv.
 */
public final class Database {
    private static final String PASSFILE_PREFIX = "backstop-pgpass-";
    /**
     * Every Backstop session sets its own timeouts, whatever the role or database says: a role's
     * idle_in_transaction_session_timeout would end the session that holds a dump's snapshot while
     * pg_dump reads it, and its statement_timeout the row counts of a large table (pg_dump sets the
     * same for its own session). Lock waits are bounded, by a minute unless the caller says longer.
     */
    static final String SESSION_TIMEOUTS = "SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0;"
            + " SET lock_timeout = '1min'";
    private static final String LOCK_TIMEOUT = "SELECT set_config('lock_timeout', ?, false)";
    private final Target target;

    public Database(Target target) {
        this.target = target;
    }

    public Target target() {
        return target;
    }

    /** A new connection to the target's database, or a clear error saying why there is none. */
    public Connection connect() {
        return connect(target.database());
    }

    /** A new connection to another database on the same server (scratch databases, restores). */
    public Connection connect(String databaseName) {
        Connection c;
        try {
            c = dataSource(databaseName).getConnection();
        } catch (SQLException e) {
            throw unreachable(databaseName, e);
        }
        try (java.sql.Statement st = c.createStatement()) {
            st.execute(SESSION_TIMEOUTS);
            return c;
        } catch (SQLException e) {
            closeQuietly(c);
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "target " + target.name() + ": cannot set the"
                    + " session's timeouts on " + databaseName + " [" + Redactor.redact(String.valueOf(e.getMessage())) + "]", e);
        }
    }

    /** Lets {@code c} wait up to {@code wait} for a lock (a backup waits as long as pg-dump.lock-wait-timeout). */
    public static void lockTimeout(Connection c, java.time.Duration wait) throws SQLException {
        try (java.sql.PreparedStatement ps = c.prepareStatement(LOCK_TIMEOUT)) {
            ps.setString(1, Math.max(1, wait.toMillis()) + "ms");
            ps.execute();
        }
    }

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException ignored) {
            // the failure that made us close it is the one reported
        }
    }

    /**
     * A physical replication connection, as pg_receivewal and pg_basebackup open one: it proves that the
     * role may replicate and that pg_hba.conf admits a replication connection from here. The error, if
     * any, is the server's own (it names the host and user a pg_hba.conf line must admit).
     */
    public Connection replicationConnection() throws SQLException {
        PGSimpleDataSource ds = dataSource(target.database());
        ds.setReplication("true");
        ds.setAssumeMinServerVersion("9.4");
        ds.setPreferQueryMode(org.postgresql.jdbc.PreferQueryMode.SIMPLE);
        return ds.getConnection();
    }

    private PGSimpleDataSource dataSource(String databaseName) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setServerNames(new String[] {target.host()});
        ds.setPortNumbers(new int[] {target.port()});
        ds.setDatabaseName(databaseName);
        ds.setUser(target.user());
        if (target.password().isPresent()) {
            ds.setPassword(target.password().reveal());
        }
        ds.setSslMode(target.sslmode());
        ds.setApplicationName("backstop");
        int connectSeconds = (int) Math.max(1, target.connectTimeout().toSeconds());
        ds.setConnectTimeout(connectSeconds);
        ds.setLoginTimeout(connectSeconds);
        ds.setTcpKeepAlive(true);
        return ds;
    }

    private BackstopException unreachable(String databaseName, SQLException e) {
        String where = target.user() + "@" + target.host() + ":" + target.port() + "/" + databaseName;
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        String hint = switch (state) {
            case "28P01", "28000" -> "authentication failed: check the target's user and password"
                    + " (password, password-file or PGPASSWORD / PGPASSWORD_FILE) and pg_hba.conf";
            case "3D000" -> "database \"" + databaseName + "\" does not exist on the server: check the target's"
                    + " `database` (PGDATABASE)";
            case "08001", "08004", "08006" -> asksForPassword(e)
                    ? "the server asks for a password and none is configured: set the target's password,"
                            + " password-file, PGPASSWORD or PGPASSWORD_FILE"
                    : "cannot connect: check host and port (PGHOST/PGPORT), that the server is running and accepts"
                            + " TCP connections from here";
            default -> "cannot connect";
        };
        String detail = Redactor.redact(e instanceof PSQLException ? e.getMessage() : String.valueOf(e.getMessage()));
        String message = "target " + target.name() + " (" + where + "): " + hint + " [" + detail + "]";
        return "3D000".equals(state) ? new MissingDatabase(message)
                : new BackstopException(ExitCode.DATABASE_UNREACHABLE, message);
    }

    /** PgJDBC's "The server requested ... authentication, but no password was provided." */
    private boolean asksForPassword(SQLException e) {
        String m = String.valueOf(e.getMessage()).toLowerCase(java.util.Locale.ROOT);
        return !target.password().isPresent() && m.contains("password") && m.contains("no password was provided");
    }

    /** The server answered, but the database does not exist: after a wiped volume, this is data loss. */
    public static final class MissingDatabase extends BackstopException {
        private static final long serialVersionUID = 1L;

        MissingDatabase(String message) {
            super(ExitCode.DATABASE_UNREACHABLE, message);
        }
    }

    /** libpq variables that make pg_dump/pg_restore reach this target, plus the private password file. */
    public Map<String, String> libpqEnvironment(PasswordFile passwordFile, String databaseName) {
        Map<String, String> env = new HashMap<>();
        env.put("PGHOST", target.host());
        env.put("PGPORT", Integer.toString(target.port()));
        env.put("PGDATABASE", databaseName);
        env.put("PGUSER", target.user());
        env.put("PGSSLMODE", target.sslmode());
        env.put("PGAPPNAME", "backstop");
        env.put("PGCONNECT_TIMEOUT", Long.toString(Math.max(2, target.connectTimeout().toSeconds())));
        if (passwordFile != null) {
            env.put("PGPASSFILE", passwordFile.path().toString());
        }
        return env;
    }

    /** Writes a 0600 libpq password file for this target's password; none when there is no password. */
    public PasswordFile passwordFile() {
        if (!target.password().isPresent()) {
            return null;
        }
        try {
            sweepStalePasswordFiles();
            Path file = Files.createTempFile(PASSFILE_PREFIX + ProcessHandle.current().pid() + "-", "",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            String escaped = target.password().reveal().replace("\\", "\\\\").replace(":", "\\:");
            // Wildcards: libpq compares host names literally, and the file serves only this one connection.
            Files.writeString(file, "*:*:*:*:" + escaped + "\n", StandardCharsets.UTF_8);
            return new PasswordFile(file);
        } catch (IOException e) {
            throw new BackstopException(ExitCode.STORAGE, "cannot write a private password file in "
                    + System.getProperty("java.io.tmpdir") + ": " + e.getMessage(), e);
        }
    }

    /**
     * Removes password files left by a Backstop process that was killed before it could delete
     * its own (their names carry the owner's PID).
     */
    static void sweepStalePasswordFiles() {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        try {
            Sweep.run(tmp, PASSFILE_PREFIX + "*", f -> {
                String rest = f.getFileName().toString().substring(PASSFILE_PREFIX.length());
                int dash = rest.indexOf('-');
                try {
                    return dash > 0 && ProcessHandle.of(Long.parseLong(rest.substring(0, dash))).isEmpty()
                            ? "a password file of a Backstop process that was killed" : null;
                } catch (NumberFormatException notOurs) {
                    return null;
                }
            });
        } catch (RuntimeException unreadable) {
            // tmp unreadable: nothing to sweep
        }
    }

    /** A password file that is deleted on close. */
    public record PasswordFile(Path path) implements AutoCloseable {
        @Override
        public void close() {
            try {
                Files.deleteIfExists(path);
            } catch (IOException ignored) {
                // tmp is cleaned eventually; the file is 0600
            }
        }
    }
}
