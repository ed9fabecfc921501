package io.backstop.restore;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.Archive;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Manifest;
import io.backstop.config.Settings.Target;
import io.backstop.files.Hashing;
import io.backstop.pg.CountedTable;
import io.backstop.pg.Database;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import io.backstop.pg.RowCounter;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The steps a restore and a drill share: integrity, database lifecycle, pg_restore, counting. */
public final class PgRestore {
    private static final String EXISTS = "SELECT 1 FROM pg_database WHERE datname = ?";
    private static final String QUOTE = "SELECT quote_ident(?)";
    private static final String USER_TABLES = """
            SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
            """;

    private final PgTools tools;
    private final Duration timeout;
    private final Archive reader;

    public PgRestore(PgTools tools, Archive reader, Duration timeout) {
        this.reader = reader;
        this.tools = tools;
        this.timeout = timeout;
    }

    /** The file is byte for byte what was verified: checked before anything is touched. */
    public static void checkIntegrity(Path file, Manifest manifest) {
        String actual = Hashing.sha256(file);
        if (!actual.equals(manifest.sha256())) {
            // Remembered: whoever finds the damage, no later latest, retention count or restore trusts the file.
            String recorded = io.backstop.catalog.Latest.recordDamage(file, manifest,
                    "its sha256 differs from the manifest's (found by a restore or drill)");
            throw new BackstopException(ExitCode.BAD_BACKUP, file + " does not match the sha256 in its manifest (it was"
                    + " changed, truncated or corrupted after it was verified); refusing to restore it. " + recorded
                    + " Pick another backup (backstop list).");
        }
    }

    static boolean exists(Database db, String name) {
        try (Connection c = db.connect("postgres"); PreparedStatement ps = c.prepareStatement(EXISTS)) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "cannot look up database " + name + ": " + e.getMessage(), e);
        }
    }

    /** Number of user relations: 0 means the database holds nothing a restore could overwrite. */
    static long userRelations(Database db, String name) {
        try (Connection c = db.connect(name); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(USER_TABLES)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "cannot inspect database " + name + ": " + e.getMessage(), e);
        }
    }

    /** Creates {@code name} as the archive's DATABASE entry describes it (template0, encoding, locale). */
    public static void create(Database db, String name, DatabaseProperties properties) {
        try (Connection c = db.connect("postgres"); Statement st = c.createStatement()) {
            st.execute(properties.createStatement(quote(c, name)));
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "create database " + name + " failed: "
                    + e.getMessage(), e);
        }
    }

    /**
     * Applies the archive's owner, settings, comment and grants to {@code name}; notes for what
     * the server refused. Connected to that database, as pg_restore --create is: the comment lives
     * in a shared catalog in the encoding of the database it was set from.
     */
    public static List<String> applyProperties(Database db, String name, DatabaseProperties properties) {
        try (Connection c = db.connect(name)) {
            return properties.apply(c, quote(c, name));
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "cannot set the properties of database " + name
                    + ": " + e.getMessage(), e);
        }
    }

    /** Drops with FORCE: other sessions are ended (PostgreSQL 13+). */
    public static void drop(Database db, String name) {
        try (Connection c = db.connect("postgres"); Statement st = c.createStatement()) {
            st.execute("DROP DATABASE IF EXISTS " + quote(c, name) + " WITH (FORCE)");
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "drop database " + name + " failed: "
                    + e.getMessage(), e);
        }
    }

    /** The server's quoting of an identifier: never concatenated raw. */
    static String quote(Connection c, String name) throws SQLException {
        try (PreparedStatement q = c.prepareStatement(QUOTE)) {
            q.setString(1, name);
            try (ResultSet rs = q.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    /**
     * pg_restore into {@code into}. By default it stops at the first error and the failure names
     * the archive entry, the server's message and a hint; with {@code continueOnError} it
     * restores everything it can and returns every object that failed.
     */
    public List<RestoreFailures.Failure> restore(Target target, Database db, Path file, String into, int jobs,
            boolean continueOnError) {
        ProcessRunner runner = new ProcessRunner();
        RestoreFailures failures = new RestoreFailures(ArchiveToc.read(tools, reader, file, timeout));
        try (Database.PasswordFile passfile = db.passwordFile()) {
            // A zstd stream reaches pg_restore on stdin, which one job reads.
            int workers = BackupLayout.isStreamed(file) ? 1 : jobs;
            List<String> command = new ArrayList<>(List.of(tools.pgRestore().toString(), "--verbose",
                    "--no-password", "--jobs=" + workers, "--dbname=" + into));
            if (!continueOnError) {
                command.add(1, "--exit-on-error");
            }
            ProcessRunner.Spec spec = reader.pgRestore(command, file,
                    db.libpqEnvironment(passfile, into), timeout).withStderrReader(failures);
            ProcessRunner.Result result = runner.run(spec, p -> { });
            List<RestoreFailures.Failure> failed = failures.failures();
            if (result.exitCode() != 0 && failed.isEmpty()) {
                throw new BackstopException(ExitCode.DUMP_FAILED, "pg_restore into " + into + " failed (exit code "
                        + result.exitCode() + "): database " + into + " is incomplete"
                        + (result.stderrTail().isBlank() ? "" : ":\n    " + result.stderrTail().replace("\n", "\n    ")));
            }
            if (!failed.isEmpty() && !continueOnError) {
                throw new BackstopException(ExitCode.DUMP_FAILED, "pg_restore into " + into + " stopped at the first"
                        + " error; database " + into + " is incomplete (objects after it were not restored):\n    "
                        + failed.get(0).describe() + (failed.get(0).command().isBlank() ? ""
                        : "\n      command: " + failed.get(0).command())
                        + "\n    --continue-on-error restores everything else and lists every object that fails");
            }
            return failed;
        }
    }

    /**
     * The rows of every table in {@code expected}, in {@code into}, counted as the backup counted
     * them (ONLY, extension filters); a missing table is absent from the result.
     */
    public static Map<String, Long> count(Database db, String into, Map<String, Long> expected) {
        RowCounter counter = new RowCounter();
        List<CountedTable> tables = new ArrayList<>();
        try (Connection c = db.connect(into)) {
            for (String table : expected.keySet()) {
                counter.lookup(c, table).ifPresent(tables::add);
            }
            Map<String, Long> counts = counter.count(c, tables, Duration.ofHours(6));
            Map<String, Long> byName = new LinkedHashMap<>();
            for (String table : expected.keySet()) {
                if (counts.containsKey(table)) {
                    byName.put(table, counts.get(table));
                }
            }
            return byName;
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DUMP_FAILED, "counting the restored rows in " + into + " failed: "
                    + e.getMessage(), e);
        }
    }

    public static List<String> differences(Map<String, Long> expected, Map<String, Long> actual) {
        List<String> diffs = new ArrayList<>();
        expected.forEach((table, rows) -> {
            Long got = actual.get(table);
            if (got == null) {
                diffs.add(table + ": missing (manifest: " + rows + " rows)");
            } else if (!got.equals(rows)) {
                diffs.add(table + ": " + got + " rows restored, manifest says " + rows);
            }
        });
        return diffs;
    }
}
