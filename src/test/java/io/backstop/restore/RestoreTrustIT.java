package io.backstop.restore;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.ExitCode;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Manifests;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restores that can be trusted on the worst day: the right backup, the whole database with its
 * properties, honest counts, clear errors. Each test reproduces a failure seen from outside.
 */
class RestoreTrustIT {
    private final PgCluster pg = PgCluster.shared();
    private final Manifests manifests = new Manifests();

    @TempDir
    Path dir;

    @Test
    void aBadMigrationThenAHostLossRestoresTheGoodDataNotTheSafetyBackup() throws Exception {
        String app = pg.createDatabase("app");
        pg.execute(app, "CREATE TABLE orders(id int primary key)", "INSERT INTO orders SELECT generate_series(1, 2000)");
        Map<String, String> env = Cli.env(pg, app, dir.resolve("backups"));
        assertThat(Cli.run(env, "backup").status()).isZero();
        assertThat(Cli.run(env, "backup", "--label", "pre-migration").status()).isZero();
        pg.execute(app, "DELETE FROM orders WHERE id > 10"); // the bad migration
        Cli.Result undo = Cli.run(env, "restore", "pre-migration", "--into", app, "--clean", "--yes");
        assertThat(undo.status()).as(undo.all()).isZero();
        assertThat(undo.out()).contains("safety backup of " + app + ": app/safety/app-", "-pre-restore.dump");
        assertThat(pg.count(app, "orders")).isEqualTo(2000);

        // The host is lost: the database is gone; the playbook restores latest.
        pg.execute("postgres", "DROP DATABASE " + app + " WITH (FORCE)");
        Cli.Result verify = Cli.run(env, "verify", "latest");
        assertThat(verify.status()).as(verify.all()).isZero();
        assertThat(verify.out()).contains("backup latest is app/", "2,000 rows").doesNotContain("safety");
        Cli.Result back = Cli.run(env, "restore", "latest", "--into", app, "--yes");
        assertThat(back.status()).as(back.all()).isZero();
        assertThat(back.out()).contains("backup latest is app/manual/", "manual tier, label pre-migration");
        assertThat(pg.count(app, "orders")).as("the good data, not the damage").isEqualTo(2000);
        assertThat(Files.isSymbolicLink(Fixtures.latest(dir.resolve("backups/app")))).isTrue();
        assertThat(Fixtures.latest(dir.resolve("backups/app")).toRealPath().getParent().getFileName()
                .toString()).isNotEqualTo("safety");
        Cli.Result list = Cli.run(env, "list");
        assertThat(list.out()).contains("safety");
    }

    @Test
    void aBackupTakenDuringAnAlarmIsNeverLatestAndALowerOneIsRefusedWithoutForce() {
        String app = pg.createDatabase("alarm");
        pg.execute(app, "CREATE TABLE orders(id int primary key)", "INSERT INTO orders SELECT generate_series(1, 500)");
        Map<String, String> env = Cli.env(pg, app, dir.resolve("backups"));
        assertThat(Cli.run(env, "backup").status()).isZero();
        pg.execute(app, "DELETE FROM orders");
        Cli.Result during = Cli.run(env, "backup");
        assertThat(during.status()).as(during.all()).isZero();
        assertThat(during.err()).contains("data-loss alarm");
        Path after = Fixtures.finalDumps(dir.resolve("backups/app/hourly")).stream().max(Path::compareTo).orElseThrow();
        Manifest m = manifests.read(after);
        assertThat(m.takenDuringAlarm()).isTrue();
        Cli.Result latest = Cli.run(env, "verify", "latest");
        assertThat(latest.out()).contains("500 rows").doesNotContain(after.getFileName().toString());
        Cli.Result refused = Cli.run(env, "restore", after.toString(), "--into", "x_" + System.nanoTime(), "--yes");
        assertThat(refused.status()).isEqualTo(ExitCode.USAGE.status());
        assertThat(refused.err()).contains("fewer rows than the baseline", "public.orders", "--force", "pinned");
        Cli.Result forced = Cli.run(env, "restore", after.toString(), "--into", "x_" + System.nanoTime(), "--yes",
                "--force");
        assertThat(forced.status()).as(forced.all()).isZero();
    }

    private static final String PROPERTIES = """
            SELECT pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, d.datlocprovider::text, r.rolname,
                   (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(d.datacl) a)::text, shobj_description(d.oid, 'pg_database'),
                   (SELECT string_agg(coalesce(ro.rolname, '*') || ':' || array_to_string(s.setconfig, ','), ';'
                                      ORDER BY ro.rolname NULLS FIRST)
                      FROM pg_db_role_setting s LEFT JOIN pg_roles ro ON ro.oid = s.setrole
                     WHERE s.setdatabase = d.oid)
              FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = current_database()
            """;

    @Test
    void aLatin1DatabaseWithSettingsCommentAndGrantsRoundTripsThroughIntoAndClean() throws Exception {
        String source = "lat1_" + System.nanoTime();
        pg.execute("postgres", "DO $$BEGIN CREATE ROLE app_owner; EXCEPTION WHEN duplicate_object THEN NULL; END$$",
                "DO $$BEGIN CREATE ROLE app_reader; EXCEPTION WHEN duplicate_object THEN NULL; END$$",
                "CREATE DATABASE " + source + " TEMPLATE template0 ENCODING 'LATIN1' LOCALE 'C' OWNER app_owner",
                "ALTER DATABASE " + source + " SET search_path = app, public",
                "ALTER ROLE app_reader IN DATABASE " + source + " SET work_mem = '8MB'",
                "COMMENT ON DATABASE " + source + " IS 'orders; and ''quotes'' é'",
                "GRANT CONNECT, TEMPORARY ON DATABASE " + source + " TO app_reader",
                "REVOKE CONNECT ON DATABASE " + source + " FROM PUBLIC");
        pg.execute(source, "CREATE SCHEMA app", "CREATE TABLE app.people(id int, name text)",
                "INSERT INTO app.people VALUES (1, 'Zoë'), (2, 'Ñandú')");
        List<String> before = properties(source);
        assertThat(before.get(0)).isEqualTo("LATIN1");
        Map<String, String> env = Cli.env(pg, source, dir.resolve("backups"));
        assertThat(Cli.run(env, "backup").status()).isZero();

        String into = "into_" + System.nanoTime();
        Cli.Result r = Cli.run(env, "restore", "latest", "--into", into, "--yes");
        assertThat(r.status()).as(r.all()).isZero();
        assertThat(properties(into)).isEqualTo(before);
        assertThat(unqualifiedNames(into)).containsExactly("Zoë", "Ñandú");

        pg.execute(source, "INSERT INTO app.people VALUES (3, 'later')");
        Cli.Result clean = Cli.run(env, "restore", "latest", "--into", source, "--clean", "--yes");
        assertThat(clean.status()).as(clean.all()).isZero();
        assertThat(properties(source)).as("--clean keeps the database's properties").isEqualTo(before);
        assertThat(unqualifiedNames(source)).containsExactly("Zoë", "Ñandú");
    }

    private List<String> properties(String database) throws SQLException {
        try (Connection c = pg.connect(database); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(PROPERTIES)) {
            rs.next();
            List<String> out = new ArrayList<>();
            for (int i = 1; i <= 8; i++) {
                out.add(rs.getString(i));
            }
            return out;
        }
    }

    /** The application's query, unqualified: works only when the database's search_path came back. */
    private List<String> unqualifiedNames(String database) throws SQLException {
        try (Connection c = pg.connect(database); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT name FROM people ORDER BY id")) {
            List<String> names = new ArrayList<>();
            while (rs.next()) {
                names.add(rs.getString(1));
            }
            return names;
        }
    }

    @Test
    void aCustomisedTemplate1NeitherLeaksIntoNorBreaksARestore() throws Exception {
        try (PgCluster other = PgCluster.start()) {
            other.execute("template1", "CREATE TABLE house_rules(id int)", "CREATE EXTENSION pg_trgm");
            String source = other.createDatabase("from_t1"); // inherits house_rules and pg_trgm
            other.execute(source, "INSERT INTO house_rules VALUES (1), (2)");
            other.execute("template1", "CREATE EXTENSION hstore"); // only template1 has this one
            Map<String, String> env = Cli.env(other, source, dir.resolve("t1"));
            assertThat(Cli.run(env, "backup").status()).isZero();
            Cli.Result r = Cli.run(env, "restore", "latest", "--into", "restored", "--yes");
            assertThat(r.status()).as(r.all()).isZero();
            assertThat(other.count("restored", "house_rules")).isEqualTo(2);
            assertThat(extensions(other, "restored")).isEqualTo(extensions(other, source)).doesNotContain("hstore");
        }
    }

    private static List<String> extensions(PgCluster cluster, String db) throws SQLException {
        try (Connection c = cluster.connect(db); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT extname FROM pg_extension ORDER BY 1")) {
            List<String> out = new ArrayList<>();
            while (rs.next()) {
                out.add(rs.getString(1));
            }
            return out;
        }
    }

    @Test
    void anUnqualifiedFunctionInAnIndexNamesTheIndexAndContinueOnErrorMatchesABarePgRestore() throws Exception {
        String source = pg.createDatabase("fnidx");
        pg.execute(source, "CREATE FUNCTION inner_f(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1'",
                "CREATE FUNCTION outer_f(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT inner_f($1)'",
                "CREATE TABLE t(x int PRIMARY KEY, y int)", "INSERT INTO t SELECT g, g FROM generate_series(1, 300) g",
                "CREATE INDEX t_outer ON t (outer_f(y))", "CREATE INDEX t_y ON t (y)",
                "CREATE TABLE c(id int REFERENCES t(x))", "INSERT INTO c VALUES (1), (2)");
        Map<String, String> env = Cli.env(pg, source, dir.resolve("backups"));
        assertThat(Cli.run(env, "backup").status()).isZero();

        Cli.Result stop = Cli.run(env, "restore", "latest", "--into", "stop_" + System.nanoTime(), "--yes");
        assertThat(stop.status()).isEqualTo(ExitCode.DUMP_FAILED.status());
        assertThat(stop.err()).contains("INDEX public.t_outer", "function inner_f(integer) does not exist",
                "search_path", "--continue-on-error", "is incomplete");

        String ours = "cont_" + System.nanoTime();
        Cli.Result cont = Cli.run(env, "restore", "latest", "--into", ours, "--yes", "--continue-on-error");
        assertThat(cont.status()).isEqualTo(ExitCode.DUMP_FAILED.status());
        assertThat(cont.out()).contains("FAILED INDEX public.t_outer", "1 objects failed");
        assertThat(cont.out().lines().filter(l -> l.startsWith("FAILED")).count()).isEqualTo(1);

        String bare = pg.createDatabase("bare");
        Path dump = plain(Fixtures.finalDumps(dir.resolve("backups/app/hourly")).get(0));
        ProcessBuilder pb = new ProcessBuilder(pg.bin().resolve("pg_restore").toString(), "-h", pg.host(), "-p",
                Integer.toString(pg.port()), "-U", PgCluster.SUPERUSER, "-d", bare, dump.toString())
                .redirectErrorStream(true);
        pb.environment().put("PGPASSWORD", pg.password());
        Process p = pb.start();
        p.getInputStream().readAllBytes();
        assertThat(p.waitFor()).as("a bare pg_restore meets the same one error").isEqualTo(1);
        assertThat(Snapshot.of(pg, ours)).isEqualTo(Snapshot.of(pg, bare));

        Cli.Result drill = Cli.run(env, "verify");
        assertThat(drill.status()).isEqualTo(ExitCode.DUMP_FAILED.status());
        assertThat(drill.out()).contains("INDEX public.t_outer");
    }

    @Test
    void countsOfAnInheritanceTreeAndAnExtensionConfigurationTableAreTheRowsInTheDump() throws Exception {
        Path share = Path.of(command(pg.bin().resolve("pg_config").toString(), "--sharedir").strip(), "extension");
        Path control = share.resolve("backstop_cfgtest.control");
        Path script = share.resolve("backstop_cfgtest--1.0.sql");
        Files.writeString(control, "comment = 'Backstop test: a configuration table'\ndefault_version = '1.0'\n"
                + "relocatable = true\n");
        Files.writeString(script, """
                CREATE TABLE cfg_settings(name text PRIMARY KEY, value text, system boolean NOT NULL DEFAULT false);
                INSERT INTO cfg_settings VALUES ('builtin', 'x', true);
                SELECT pg_catalog.pg_extension_config_dump('cfg_settings', 'WHERE NOT system');
                """);
        try {
            String source = pg.createDatabase("inherit");
            pg.execute(source, "CREATE TABLE cities(name text, population int)",
                    "CREATE TABLE capitals(state char(2)) INHERITS (cities)",
                    "INSERT INTO cities VALUES ('a', 1), ('b', 2), ('c', 3)",
                    "INSERT INTO capitals VALUES ('d', 4, 'DE'), ('e', 5, 'EN')",
                    "CREATE EXTENSION backstop_cfgtest",
                    "INSERT INTO cfg_settings VALUES ('u1', '1'), ('u2', '2'), ('u3', '3')");
            Map<String, String> env = Cli.env(pg, source, dir.resolve("backups"));
            assertThat(Cli.run(env, "backup").status()).isZero();
            Path dump = Fixtures.finalDumps(dir.resolve("backups/app/hourly")).get(0);
            Map<String, Long> counts = manifests.read(dump).rowCounts();
            assertThat(counts).containsEntry("public.cities", 3L).containsEntry("public.capitals", 2L)
                    .containsEntry("public.cfg_settings", 3L);
            assertThat(manifests.read(dump).formatVersion()).isEqualTo(2);

            String into = "counted_" + System.nanoTime();
            Cli.Result r = Cli.run(env, "restore", "latest", "--into", into, "--yes");
            assertThat(r.status()).as(r.all()).isZero();
            assertThat(r.out()).contains("row counts match the manifest");
            assertThat(pg.count(into, "ONLY cities")).isEqualTo(3);
            assertThat(pg.count(into, "cfg_settings WHERE NOT system")).isEqualTo(3);
            assertThat(Cli.run(env, "verify").status()).isZero();
            Cli.Result check = Cli.run(env, "check");
            assertThat(check.status()).as("live counts use the same rules: no false drop").isZero();
        } finally {
            Files.deleteIfExists(control);
            Files.deleteIfExists(script);
        }
    }

    @Test
    void passwordsThatAreAlsoWordsLeaveEveryMessageReadableAndNeverAppearAsTheSecret() throws Exception {
        String source = pg.createDatabase("pwds");
        pg.execute(source, "CREATE FUNCTION inner_f(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1'",
                "CREATE FUNCTION outer_f(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT inner_f($1)'",
                "CREATE TABLE t(x int)", "CREATE INDEX t_outer ON t (outer_f(x))");
        for (String password : List.of("error", "x", "a", "pass word", "p@ss:w/rd")) {
            String role = "pw_" + Math.abs(password.hashCode());
            pg.execute("postgres", "DROP ROLE IF EXISTS " + role, "CREATE ROLE " + role
                    + " LOGIN SUPERUSER PASSWORD '" + password.replace("'", "''") + "'");
            Map<String, String> env = new HashMap<>(Cli.env(pg, source, dir.resolve("pw-" + role)));
            env.put("PGUSER", role);
            env.put("PGPASSWORD", password);
            Cli.Result backup = Cli.run(env, "backup");
            assertThat(backup.status()).as(password + ": " + backup.all()).isZero();
            Cli.Result failed = Cli.run(env, "restore", "latest", "--into", "pw_" + System.nanoTime(), "--yes");
            assertThat(failed.status()).isEqualTo(ExitCode.DUMP_FAILED.status());
            assertThat(failed.err()).as(password).contains("function inner_f(integer) does not exist", "INDEX public.t_outer",
                    "stopped at the first error").doesNotContain("****");
            env.put("PGPASSWORD", password + "-wrong");
            Cli.Result denied = Cli.run(env, "check");
            assertThat(denied.status()).isEqualTo(ExitCode.DATABASE_UNREACHABLE.status());
            assertThat(denied.err()).as(password).contains("authentication failed", "password").doesNotContain("****");
            if (password.contains(" ") || password.contains("@")) { // the others are words any message may hold
                String everything = backup.all() + failed.all() + denied.all()
                        + String.join("", Fixtures.files(dir.resolve("pw-" + role)).stream()
                                .filter(f -> f.toString().endsWith(".json")).map(RestoreTrustIT::read).toList());
                assertThat(everything).doesNotContain(password);
            }
        }
    }

    @Test
    void aRichSchemaRoundTripsTableByTable() throws Exception {
        String source = pg.createDatabase("rich");
        pg.execute(source,
                "CREATE EXTENSION hstore", "CREATE EXTENSION citext", "CREATE EXTENSION pg_trgm",
                "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
                "CREATE DOMAIN posint AS int CHECK (VALUE > 0)",
                "CREATE SCHEMA \"Weird Schema\"",
                "CREATE TABLE \"Weird Schema\".\"Tab \"\"Q\"\" ü\"(id posint PRIMARY KEY, m mood, h hstore, c citext,"
                        + " \"Col ümlaut\" text)",
                "INSERT INTO \"Weird Schema\".\"Tab \"\"Q\"\" ü\" SELECT g, (ARRAY['sad','ok','happy'])[g % 3 + 1]::mood,"
                        + " hstore('k', g::text), 'Name' || g, 'ü' || g FROM generate_series(1, 400) g",
                "CREATE INDEX trgm_idx ON \"Weird Schema\".\"Tab \"\"Q\"\" ü\" USING gin (c gin_trgm_ops)",
                "CREATE TABLE measurements(id bigserial, at date NOT NULL, v numeric) PARTITION BY RANGE (at)",
                "CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
                "CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
                "INSERT INTO measurements(at, v) SELECT date '2025-06-01' + g, g / 3.0 FROM generate_series(1, 500) g",
                "CREATE TABLE cities(name text, population int)",
                "CREATE TABLE capitals(state char(2)) INHERITS (cities)",
                "INSERT INTO cities SELECT 'c' || g, g FROM generate_series(1, 50) g",
                "INSERT INTO capitals SELECT 'k' || g, g, 'S' FROM generate_series(1, 7) g",
                "CREATE MATERIALIZED VIEW city_count AS SELECT count(*) AS n FROM cities",
                "CREATE TABLE audit(id serial PRIMARY KEY, at timestamptz DEFAULT now(), what text)",
                "CREATE FUNCTION audit_it() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO public.audit(what)"
                        + " VALUES (TG_OP); RETURN NEW; END$$",
                "CREATE TRIGGER cities_audit AFTER INSERT ON cities FOR EACH ROW EXECUTE FUNCTION audit_it()",
                "INSERT INTO cities VALUES ('triggered', 1)",
                "CREATE TABLE secrets(id int, owner text)", "ALTER TABLE secrets ENABLE ROW LEVEL SECURITY",
                "CREATE POLICY own ON secrets USING (owner = current_user)",
                "INSERT INTO secrets VALUES (1, 'postgres'), (2, 'someone')",
                "SELECT lo_from_bytea(0, convert_to('large object one', 'UTF8'))",
                "SELECT lo_from_bytea(0, decode(repeat('ab', 40000), 'hex'))",
                "CREATE SEQUENCE odd_seq START -100 INCREMENT -7 MINVALUE -1000000 MAXVALUE -1",
                "SELECT nextval('odd_seq'), nextval('odd_seq'), nextval('odd_seq')",
                "CREATE SEQUENCE unused_seq START 42", "SELECT setval('unused_seq', 1000, false)",
                "REFRESH MATERIALIZED VIEW city_count"); // a restore refreshes it: compare like with like
        Map<String, String> env = Cli.env(pg, source, dir.resolve("backups"));
        assertThat(Cli.run(env, "backup").status()).isZero();
        String into = "rich_copy_" + System.nanoTime();
        Cli.Result r = Cli.run(env, "restore", "latest", "--into", into, "--yes");
        assertThat(r.status()).as(r.all()).isZero();
        Snapshot before = Snapshot.of(pg, source);
        Snapshot after = Snapshot.of(pg, into);
        assertThat(before.tables()).hasSizeGreaterThanOrEqualTo(8);
        assertThat(after.tables()).isEqualTo(before.tables());
        assertThat(after.sequences()).isEqualTo(before.sequences());
        assertThat(after.largeObjects()).isEqualTo(before.largeObjects()).startsWith("2:");
        assertThat(after.objects()).isEqualTo(before.objects());
        assertThat(properties(into)).isEqualTo(properties(source));
    }

    /** A database's content, compared table by table: count and an order-independent checksum. */
    record Snapshot(Map<String, String> tables, Map<String, String> sequences, String largeObjects, List<String> objects) {
        static Snapshot of(PgCluster pg, String db) throws SQLException {
            try (Connection c = pg.connect(db); Statement st = c.createStatement()) {
                Map<String, String> tables = new TreeMap<>();
                List<String> names = strings(st, "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN"
                        + " pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN"
                        + " ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'");
                for (String t : names) {
                    tables.put(t, strings(st, "SELECT count(*) || ':' || coalesce(md5(string_agg(md5(x::text), ''"
                            + " ORDER BY md5(x::text))), '') FROM ONLY " + t + " x").get(0));
                }
                Map<String, String> sequences = new TreeMap<>();
                for (String s : strings(st, "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences")) {
                    sequences.put(s, strings(st, "SELECT last_value || ',' || is_called FROM " + s).get(0));
                }
                String los = strings(st, "SELECT count(*) || ':' || coalesce(md5(string_agg(oid::text || md5(lo_get(oid)),"
                        + " ',' ORDER BY oid)), '') FROM pg_largeobject_metadata").get(0);
                List<String> objects = strings(st, """
                        SELECT kind || ' ' || what FROM (
                          SELECT 'index' AS kind, indexdef AS what FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog')
                          UNION ALL SELECT 'constraint', conrelid::regclass || ' ' || pg_get_constraintdef(oid)
                            FROM pg_constraint WHERE connamespace NOT IN ('pg_catalog'::regnamespace)
                          UNION ALL SELECT 'trigger', tgrelid::regclass || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal
                          UNION ALL SELECT 'policy', tablename || ' ' || policyname || ' ' || qual FROM pg_policies
                          UNION ALL SELECT 'rls', relname || ' ' || relrowsecurity FROM pg_class WHERE relrowsecurity
                          UNION ALL SELECT 'enum', enumtypid::regtype || ' ' || enumlabel FROM pg_enum
                          UNION ALL SELECT 'domain', typname || ' ' || pg_get_constraintdef(c.oid) FROM pg_type t
                            JOIN pg_constraint c ON c.contypid = t.oid
                          UNION ALL SELECT 'extension', extname || ' ' || extversion FROM pg_extension
                          UNION ALL SELECT 'inherits', inhrelid::regclass || ' ' || inhparent::regclass FROM pg_inherits
                        ) o ORDER BY 1""");
                return new Snapshot(tables, sequences, los, objects);
            }
        }

        private static List<String> strings(Statement st, String sql) throws SQLException {
            List<String> out = new ArrayList<>();
            try (ResultSet rs = st.executeQuery(sql)) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
            return out;
        }
    }

    /** The archive pg_restore reads: a .dump.zst decompressed as `zstd -dc` would, beside it. */
    private Path plain(Path dump) throws IOException {
        if (!dump.toString().endsWith(".zst")) {
            return dump;
        }
        Path out = dir.resolve("plain.dump");
        try (var in = new com.github.luben.zstd.ZstdInputStream(Files.newInputStream(dump))) {
            Files.copy(in, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        return out;
    }

    private static String read(Path f) {
        try {
            return Files.readString(f);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String command(String... args) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(args).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        return out;
    }
}
