package io.backstop.restore;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.backup.Manifest;
import io.backstop.backup.Verifier;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Database;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
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
final class PgRestore {
    private static final String EXISTS = "SELECT 1 FROM pg_database WHERE datname = ?";
    private static final String QUOTE = "SELECT quote_ident(?)";
    private static final String USER_TABLES = """
            SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
            """;

    private final PgTools tools;
    private final Duration timeout;

    PgRestore(PgTools tools, Duration timeout) {
        this.tools = tools;
        this.timeout = timeout;
    }

    /** The file is byte for byte what was verified: checked before anything is touched. */
    static void checkIntegrity(Path file, Manifest manifest) {
        String actual = Verifier.sha256(file);
        if (!actual.equals(manifest.sha256())) {
            throw new BackstopException(ExitCode.BAD_BACKUP, file + " does not match the sha256 in its manifest (it was"
                    + " changed, truncated or corrupted after it was verified); refusing to restore it. Pick another"
                    + " backup (backstop list).");
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

    static void create(Database db, String name) {
        maintenance(db, "CREATE DATABASE ", name, "");
    }

    /** Drops with FORCE: other sessions are ended (PostgreSQL 13+). */
    static void drop(Database db, String name) {
        maintenance(db, "DROP DATABASE IF EXISTS ", name, " WITH (FORCE)");
    }

    private static void maintenance(Database db, String prefix, String name, String suffix) {
        try (Connection c = db.connect("postgres"); PreparedStatement q = c.prepareStatement(QUOTE)) {
            q.setString(1, name);
            String quoted;
            try (ResultSet rs = q.executeQuery()) {
                rs.next();
                quoted = rs.getString(1); // quoted by the server, never concatenated raw
            }
            try (Statement st = c.createStatement()) {
                st.execute(prefix + quoted + suffix);
            }
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, prefix.strip().toLowerCase() + " " + name
                    + " failed: " + e.getMessage(), e);
        }
    }

    /** pg_restore into {@code into}, stopping at the first error. */
    ProcessRunner.Result restore(Target target, Database db, Path file, String into, int jobs) {
        ProcessRunner runner = new ProcessRunner(List.of(target.password().reveal()));
        try (Database.PasswordFile passfile = db.passwordFile()) {
            List<String> command = new ArrayList<>(List.of(tools.pgRestore().toString(), "--exit-on-error",
                    "--no-password", "--jobs=" + jobs, "--dbname=" + into, file.toString()));
            ProcessRunner.Spec spec = ProcessRunner.Spec.of(command, db.libpqEnvironment(passfile, into), timeout);
            ProcessRunner.Result result = runner.run(spec, p -> { });
            if (result.exitCode() != 0) {
                throw new BackstopException(ExitCode.DUMP_FAILED, "pg_restore into " + into + " failed half-way (exit code "
                        + result.exitCode() + "): database " + into + " is incomplete"
                        + (result.stderrTail().isBlank() ? "" : ":\n    " + result.stderrTail().replace("\n", "\n    ")));
            }
            return result;
        }
    }

    /** count(*) of every table in {@code expected}, in {@code into}; a missing table is absent from the result. */
    static Map<String, Long> count(Database db, String into, Map<String, Long> expected) {
        Map<String, Long> counts = new LinkedHashMap<>();
        try (Connection c = db.connect(into); Statement st = c.createStatement();
                PreparedStatement exists = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
            for (String table : expected.keySet()) {
                exists.setString(1, table);
                try (ResultSet rs = exists.executeQuery()) {
                    rs.next();
                    if (!rs.getBoolean(1)) {
                        continue;
                    }
                }
                // table names come from the manifest, where the server quoted them (format %I.%I)
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM " + table)) {
                    rs.next();
                    counts.put(table, rs.getLong(1));
                }
            }
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.DUMP_FAILED, "counting the restored rows in " + into + " failed: "
                    + e.getMessage(), e);
        }
        return counts;
    }

    static List<String> differences(Map<String, Long> expected, Map<String, Long> actual) {
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
