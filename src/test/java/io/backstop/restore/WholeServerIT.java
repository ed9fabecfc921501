package io.backstop.restore;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole server comes back: roles with their passwords, memberships, role and per-database settings,
 * owners and grants, from the globals file taken beside each dump, onto a freshly initialised server.
 */
class WholeServerIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> DATABASES = List.of("shop", "billing", "crm");

    @TempDir
    Path dir;

    private Path config(PgCluster pg) throws Exception {
        StringBuilder targets = new StringBuilder();
        for (String db : DATABASES) {
            targets.append("    { name = ").append(db).append(", host = \"127.0.0.1\", port = ").append(pg.port())
                    .append(", database = ").append(db).append(", password = \"")
                    .append(pg.password().replace("\\", "\\\\").replace("\"", "\\\"")).append("\" }\n");
        }
        Path conf = dir.resolve("backstop-" + pg.port() + ".conf");
        Files.writeString(conf, "backstop {\n  restore-drill.every = 0\n  targets = [\n" + targets + "  ]\n}\n");
        return conf;
    }

    private Map<String, String> env(Path conf) {
        Map<String, String> env = new HashMap<>();
        env.put("BACKSTOP_CONFIG", conf.toString());
        env.put("BACKSTOP_BACKUP_DIR", dir.resolve("backups").toString());
        env.put("BACKSTOP_PG_BIN_DIR", PgCluster.binDir().toString());
        env.put("PATH", System.getenv("PATH"));
        return env;
    }

    private static Connection login(PgCluster pg, String db, String user, String password) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + pg.port() + "/" + db, user, password);
    }

    private static String one(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    @Test
    void afterTheClusterIsWipedEveryDatabaseComesBackWithItsRolesPasswordsGrantsAndSettings() throws Exception {
        Path backups = dir.resolve("backups");
        try (PgCluster old = PgCluster.start(); PgCluster fresh = PgCluster.start(); PgCluster other = PgCluster.start()) {
            old.execute("postgres",
                    "CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw-1'",
                    "CREATE ROLE readonly LOGIN PASSWORD 'reader-pw-2' CONNECTION LIMIT 7",
                    "CREATE ROLE \"Tuned Role\" NOLOGIN",
                    "ALTER ROLE \"Tuned Role\" SET statement_timeout = '5s'",
                    "GRANT \"Tuned Role\" TO readonly",
                    "COMMENT ON ROLE readonly IS 'the reporting login'");
            for (String db : DATABASES) {
                old.execute("postgres", "CREATE DATABASE " + db + " OWNER app_owner");
                old.execute(db, "SET ROLE app_owner",
                        "CREATE TABLE items(id int PRIMARY KEY, name text)",
                        "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 250) g",
                        "GRANT SELECT ON items TO readonly");
            }
            old.execute("postgres", "ALTER ROLE readonly IN DATABASE shop SET work_mem = '8MB'");
            Map<String, String> oldEnv = env(config(old));
            for (String db : DATABASES) {
                Cli.Result b = Cli.run(oldEnv, "backup", "--target", db);
                assertThat(b.status()).as(b.all()).isZero();
                assertThat(b.all()).doesNotContain("SCRAM-SHA-256$").doesNotContain("owner-pw-1");
            }
            Path dump = Fixtures.latest(backups.resolve("shop"));
            Path realDump = dump.getParent().resolve(Files.readSymbolicLink(dump));
            Path globals = io.backstop.catalog.BackupLayout.globalsOf(realDump);
            assertThat(globals).exists();
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(globals))).isEqualTo("rw-------");
            String sql = Files.readString(globals);
            assertThat(sql).contains("CREATE ROLE app_owner;").contains("SCRAM-SHA-256$")
                    .contains("ALTER ROLE \"Tuned Role\" SET statement_timeout TO '5s';")
                    .contains("GRANT \"Tuned Role\" TO readonly GRANTED BY postgres;");
            JsonNode manifest = JSON.readTree(io.backstop.catalog.BackupLayout.manifestOf(realDump).toFile());
            assertThat(manifest.path("globals").path("file").asText()).isEqualTo(globals.getFileName().toString());
            assertThat(manifest.path("globals").path("role_passwords").asBoolean()).isTrue();
            assertThat(manifest.path("globals").path("roles").asInt()).isGreaterThanOrEqualTo(4);
            assertThat(manifest.path("globals").path("sha256").asText())
                    .isEqualTo(io.backstop.files.Hashing.javaSha256(globals));

            // The host is lost: a freshly initialised server has none of it. The playbook: one restore per database.
            Map<String, String> freshEnv = env(config(fresh));
            List<String> said = new ArrayList<>();
            for (String db : DATABASES) {
                Cli.Result r = Cli.run(freshEnv, "restore", "latest", "--target", db, "--into", db, "--with-roles", "--yes");
                assertThat(r.status()).as(r.all()).isZero();
                said.add(r.out());
                assertThat(r.all()).doesNotContain("SCRAM-SHA-256$");
            }
            assertThat(said.get(0)).contains("roles: created Tuned Role, app_owner, readonly;")
                    .containsPattern("left as they are \\(they exist here\\): [^;]*postgres");
            assertThat(said.get(1)).as("the second restore finds the roles made by the first and leaves them be")
                    .contains("roles: created none;").contains("app_owner").contains("readonly");

            try (Connection owner = login(fresh, "billing", "app_owner", "owner-pw-1")) {
                assertThat(one(owner, "SELECT count(*) FROM items")).isEqualTo("250");
                assertThat(one(owner, "SELECT tableowner FROM pg_tables WHERE tablename = 'items'")).isEqualTo("app_owner");
                assertThat(one(owner, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'billing'"))
                        .isEqualTo("app_owner");
            }
            try (Connection reader = login(fresh, "shop", "readonly", "reader-pw-2")) {
                assertThat(one(reader, "SELECT count(*) FROM items")).as("the grant came back").isEqualTo("250");
                assertThat(one(reader, "SHOW work_mem")).as("the per-database setting").isEqualTo("8MB");
                assertThat(one(reader, "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'readonly'")).isEqualTo("7");
                assertThat(one(reader, "SELECT pg_has_role('readonly', 'Tuned Role', 'MEMBER')")).isEqualTo("t");
                assertThat(one(reader, "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting s JOIN pg_roles r"
                        + " ON r.oid = s.setrole WHERE r.rolname = 'Tuned Role'")).isEqualTo("statement_timeout=5s");
                assertThat(one(reader, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname ="
                        + " 'readonly'")).isEqualTo("the reporting login");
                assertThat(one(reader, "SELECT has_table_privilege('readonly', 'items', 'INSERT')")).isEqualTo("f");
            }
            assertThat(catchLogin(fresh, "shop", "readonly", "wrong")).as("the password is the old one, not any")
                    .contains("password authentication failed");

            // A role that exists is never changed: its password here stays.
            fresh.execute("postgres", "ALTER ROLE readonly PASSWORD 'changed-here'");
            Cli.Result again = Cli.run(freshEnv, "restore", "latest", "--target", "crm", "--into", "crm_again",
                    "--with-roles", "--yes");
            assertThat(again.status()).as(again.all()).isZero();
            try (Connection reader = login(fresh, "shop", "readonly", "changed-here")) {
                assertThat(one(reader, "SELECT 1")).isEqualTo("1");
            }

            // Without --with-roles an empty server stops at the owner: the role and the file that has it are named.
            Cli.Result without = Cli.run(env(config(other)), "restore", "latest", "--target", "shop", "--into", "shop",
                    "--yes");
            assertThat(without.status()).isNotZero();
            assertThat(without.all()).contains("role \"app_owner\" does not exist on this server; the globals file ")
                    .contains("-globals.sql has it: restore again with --with-roles");
        }
    }

    @Test
    void aLoginThatMayNotReadPasswordHashesTakesTheRolesWithoutThemAndTheManifestSaysSo() throws Exception {
        try (PgCluster pg = PgCluster.start()) {
            // The application's owner backs its own database up: no superuser, no pg_read_all_data (which reads
            // pg_authid too), as on a managed service.
            pg.execute("postgres", "CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw-1'",
                    "CREATE ROLE reporting LOGIN PASSWORD 'reporting-pw'", "CREATE DATABASE shop OWNER app_owner");
            pg.execute("shop", "SET ROLE app_owner", "CREATE TABLE items(id int PRIMARY KEY)",
                    "INSERT INTO items SELECT generate_series(1, 40)");
            Path conf = dir.resolve("limited.conf");
            Files.writeString(conf, "backstop {\n  restore-drill.every = 0\n  targets = [ { name = shop, host ="
                    + " \"127.0.0.1\", port = " + pg.port() + ", database = shop, user = app_owner, password ="
                    + " \"owner-pw-1\" } ]\n}\n");
            Cli.Result b = Cli.run(env(conf), "backup");
            assertThat(b.status()).as(b.all()).isZero();
            Path dump = Fixtures.latest(dir.resolve("backups/shop"));
            Path realDump = dump.getParent().resolve(Files.readSymbolicLink(dump));
            String sql = Files.readString(io.backstop.catalog.BackupLayout.globalsOf(realDump));
            assertThat(sql).contains("CREATE ROLE app_owner;").contains("CREATE ROLE reporting;")
                    .doesNotContain("PASSWORD '");
            JsonNode manifest = JSON.readTree(io.backstop.catalog.BackupLayout.manifestOf(realDump).toFile());
            assertThat(manifest.path("globals").path("role_passwords").asBoolean()).isFalse();
            assertThat(manifest.path("globals").path("problem").isNull()).isTrue();
        }
    }

    private static String catchLogin(PgCluster pg, String db, String user, String password) {
        try (Connection c = login(pg, db, user, password)) {
            return "logged in";
        } catch (SQLException e) {
            return e.getMessage();
        }
    }
}
