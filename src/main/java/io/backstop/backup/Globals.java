package io.backstop.backup;

import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Manifest;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.crypt.Age;
import io.backstop.files.Durable;
import io.backstop.files.Hashing;
import io.backstop.pg.Database;
import io.backstop.pg.ProcessRunner;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's globals beside each dump: {@code pg_dumpall --globals-only} (roles with their password
 * hashes where the login may read them, memberships, role and per-database settings, tablespaces),
 * written 0600 to a temporary, checked whole (pg_dumpall's closing line), encrypted when local
 * copies are, fsynced, and given its final name before the dump gets its own. What lives outside a
 * database is what an empty server lacks; without it a restore stops at the first owner or grant.
 * A globals file that cannot be taken never fails the backup: the manifest says why.
 */
final class Globals {
    private static final Logger log = LoggerFactory.getLogger(Globals.class);
    /** pg_dumpall's last line when it finished: a file without it was cut short. */
    static final String COMPLETE = "PostgreSQL database cluster dump complete";

    private final Settings settings;

    Globals(Settings settings) {
        this.settings = settings;
    }

    /** A globals file written and checked, still under its temporary name. */
    record Written(Path tmp, Path finalFile, Manifest.Globals facts) {
    }

    /**
     * Takes the globals for the dump that will be {@code dumpFile}; returns the manifest's account of
     * it, and, when taken, the temporary to rename once the manifest is written.
     */
    Written take(Target target, Database db, Database.PasswordFile passfile, ProcessRunner runner, Path pgDump,
            Connection connection, Path dumpFile) {
        Path finalFile = BackupLayout.globalsOf(dumpFile);
        boolean encrypt = finalFile.getFileName().toString().endsWith(BackupLayout.AGE_SUFFIX);
        Path plain = Durable.temporarySibling(finalFile.resolveSibling(finalFile.getFileName() + ".plain"));
        Path encrypted = Durable.temporarySibling(finalFile);
        try {
            boolean passwords = canReadPasswords(connection);
            List<String> command = new ArrayList<>(List.of(pgDump.resolveSibling("pg_dumpall").toString(),
                    "--globals-only", "--no-password", "--file=" + plain, "--database=" + target.database()));
            if (!passwords) {
                command.add("--no-role-passwords"); // pg_authid is closed to this login: roles come back without them
            }
            Durable.createPrivate(plain);
            ProcessRunner.Spec spec = ProcessRunner.Spec.of(command, db.libpqEnvironment(passfile, target.database()),
                    settings.pgDump().timeout());
            ProcessRunner.Result result = runner.run(spec, p -> { });
            if (result.exitCode() != 0) {
                return failed(target, finalFile, "pg_dumpall --globals-only failed: "
                        + runner.redact(result.stderrTail()).strip().replace("\n", "; "), plain, encrypted);
            }
            String sql = Files.readString(plain, StandardCharsets.UTF_8);
            if (!sql.contains(COMPLETE)) {
                return failed(target, finalFile, "pg_dumpall's output ended before its closing line", plain, encrypted);
            }
            int roles = (int) sql.lines().filter(l -> l.startsWith("CREATE ROLE ")).count();
            Path kept = plain;
            String sha256;
            if (encrypt) {
                sha256 = Age.encryptFile(plain, encrypted, settings.encryption().recipients(), true).sha256().orElseThrow();
                Files.deleteIfExists(plain);
                kept = encrypted;
            } else {
                sha256 = Hashing.sha256(plain);
            }
            Durable.fsync(kept);
            return new Written(kept, finalFile, new Manifest.Globals(finalFile.getFileName().toString(), sha256,
                    Files.size(kept), passwords, roles, null));
        } catch (IOException | SQLException | RuntimeException e) {
            return failed(target, finalFile, e.getClass().getSimpleName() + ": " + runner.redact(String.valueOf(
                    e.getMessage())), plain, encrypted);
        }
    }

    private static Written failed(Target target, Path finalFile, String why, Path... temporaries) {
        for (Path t : temporaries) {
            try {
                Files.deleteIfExists(t);
            } catch (IOException e) {
                log.warn("could not remove {}: {}; it is swept at the next start", t, e.getMessage());
            }
        }
        log.warn("backup {}: no globals file beside this dump ({}); the dump counts, but roles, memberships and"
                + " settings must come from an earlier backup's globals", target.name(), why);
        return new Written(null, finalFile, new Manifest.Globals(null, null, 0, false, 0, why));
    }

    /** Whether this login may read password hashes (pg_authid): superusers may, managed services' admins may not. */
    private static boolean canReadPasswords(Connection c) throws SQLException {
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT')")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }
}
