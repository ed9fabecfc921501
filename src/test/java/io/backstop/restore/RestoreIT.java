package io.backstop.restore;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.ExitCode;
import io.backstop.catalog.Manifests;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** backstop restore against a real server, with the real pg_restore. */
class RestoreIT {
    private final PgCluster pg = PgCluster.shared();
    private final Manifests manifests = new Manifests();

    @TempDir
    Path dir;

    private String db;
    private Map<String, String> env;
    private Path backups;
    private Path dump;

    @BeforeEach
    void seedAndBackUp() {
        db = pg.createDatabase("source");
        pg.execute(db, "CREATE TABLE users(id int primary key, email text)",
                "INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 700) g",
                "CREATE SCHEMA billing", "CREATE TABLE billing.invoices(id int, user_id int REFERENCES users)",
                "INSERT INTO billing.invoices SELECT g, g FROM generate_series(1, 300) g");
        backups = dir.resolve("backups");
        env = Cli.env(pg, db, backups);
        assertThat(Cli.run(env, "backup").status()).isZero();
        dump = Fixtures.finalDumps(backups.resolve("app/hourly")).get(0);
    }

    @Test
    void restoreIntoANewDatabaseReproducesTheManifestCounts() {
        String into = "restored_" + System.nanoTime();
        Cli.Result r = Cli.run(env, "restore", "latest", "--into", into, "--yes");
        assertThat(r.status()).as(r.all()).isZero();
        assertThat(r.out()).contains("row counts match the manifest", "2 tables", "1,000 rows");
        assertThat(pg.count(into, "users")).isEqualTo(700);
        assertThat(pg.count(into, "billing.invoices")).isEqualTo(300);
        String stamp = dump.getFileName().toString().replaceAll(".*-(\\d{8}T\\d{2}).*", "$1");
        Cli.Result byPrefix = Cli.run(env, "restore", stamp, "--into", into + "_b", "--yes");
        assertThat(byPrefix.status()).as(byPrefix.all()).isZero();
        Cli.Result byPath = Cli.run(env, "restore", dump.toString(), "--into", into + "_c", "--yes", "--jobs", "2");
        assertThat(byPath.status()).as(byPath.all()).isZero();
    }

    @Test
    void aNonEmptyDatabaseIsRefusedWithoutCleanAndNothingChanges() {
        String into = pg.createDatabase("busy");
        pg.execute(into, "CREATE TABLE precious(id int)", "INSERT INTO precious VALUES (1), (2)");
        Cli.Result r = Cli.run(env, "restore", "latest", "--into", into, "--yes");
        assertThat(r.status()).isEqualTo(ExitCode.USAGE.status());
        assertThat(r.err()).contains("is not empty", "nothing was changed", "--clean");
        assertThat(pg.count(into, "precious")).isEqualTo(2);
        assertThat(Fixtures.finalDumps(backups.resolve("app/manual"))).isEmpty();
    }

    @Test
    void aRestoreKilledAfterItsSafetyBackupHasAlreadySaidTheCommandThatPutsTheDatabaseBack() throws Exception {
        String into = pg.createDatabase("killed");
        pg.execute(into, "CREATE TABLE precious(id int)", "INSERT INTO precious SELECT generate_series(1, 42)");
        Path log = dir.resolve("restore.log");
        Process restore = Cli.spawn(env, log, "restore", "latest", "--into", into, "--clean", "--yes");
        Fixtures.await("the safety backup's line", java.time.Duration.ofMinutes(2),
                () -> read(log).contains("previous contents are in the safety backup") || !restore.isAlive());
        restore.destroyForcibly(); // SIGKILL right after it: no finally block, no shutdown hook
        restore.waitFor();
        java.util.regex.Matcher command = java.util.regex.Pattern.compile("put them back with: (backstop restore (\\S+)"
                + " --into " + into + " --clean)").matcher(read(log));
        assertThat(command.find()).as(read(log)).isTrue();
        Cli.Result back = Cli.run(env, "restore", command.group(2), "--into", into, "--clean", "--yes");
        assertThat(back.status()).as(back.all()).isZero();
        assertThat(pg.count(into, "precious")).isEqualTo(42);
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (java.io.IOException e) {
            return "";
        }
    }

    @Test
    void withCleanASafetyBackupIsTakenFirst() throws Exception {
        String into = pg.createDatabase("replace");
        pg.execute(into, "CREATE TABLE precious(id int)", "INSERT INTO precious VALUES (1), (2), (3)");
        Cli.Result r = Cli.run(env, "restore", "latest", "--into", into, "--clean", "--yes");
        assertThat(r.status()).as(r.all()).isZero();
        assertThat(r.out()).contains("safety backup of " + into + ": app/safety/app-", "-pre-restore.dump");
        Path safety = Fixtures.finalDumps(backups.resolve("app/safety")).get(0);
        assertThat(manifests.read(safety).rowCounts()).containsEntry("public.precious", 3L);
        assertThat(pg.count(into, "users")).isEqualTo(700);
        String back = pg.createDatabase("back");
        pg.restore(safety, back);
        assertThat(pg.count(back, "precious")).as("the safety backup holds what was replaced").isEqualTo(3);
    }

    @Test
    void aCorruptedOrTruncatedFileIsRefusedBeforeAnythingIsDropped() throws Exception {
        String into = pg.createDatabase("keep");
        pg.execute(into, "CREATE TABLE precious(id int)", "INSERT INTO precious VALUES (1)");
        byte[] bytes = Files.readAllBytes(dump);
        byte[] flipped = bytes.clone();
        flipped[bytes.length / 2] ^= 0x01;
        Files.write(dump, flipped);
        Cli.Result r = Cli.run(env, "restore", dump.toString(), "--into", into, "--clean", "--yes");
        assertThat(r.status()).isEqualTo(ExitCode.BAD_BACKUP.status());
        assertThat(r.err()).contains("does not match the sha256 in its manifest", "refusing to restore it");
        Cli.Result latest = Cli.run(env, "restore", "latest", "--into", into, "--clean", "--yes");
        assertThat(latest.status()).isEqualTo(ExitCode.BAD_BACKUP.status());
        assertThat(latest.err()).contains("no intact verified backup", "no longer match their manifests", "DAMAGED");
        Files.write(dump, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        Cli.Result t = Cli.run(env, "restore", "latest", "--into", into, "--clean", "--yes");
        assertThat(t.status()).isEqualTo(ExitCode.BAD_BACKUP.status());
        assertThat(pg.count(into, "precious")).as("nothing dropped").isEqualTo(1);
        assertThat(Fixtures.finalDumps(backups.resolve("app/safety"))).as("no safety backup either").isEmpty();
    }

    @Test
    void aForeignFileIsRefusedByName() throws Exception {
        Path foreign = Files.write(dir.resolve("other.dump"), Files.readAllBytes(dump));
        Cli.Result r = Cli.run(env, "restore", foreign.toString(), "--into", "x_" + System.nanoTime(), "--yes");
        assertThat(r.status()).isEqualTo(ExitCode.BAD_BACKUP.status());
        assertThat(r.err()).contains(foreign.toString(), "has no manifest", "not a Backstop backup");
        Cli.Result none = Cli.run(env, "restore", "19990101", "--into", "y", "--yes");
        assertThat(none.status()).isEqualTo(ExitCode.BAD_BACKUP.status());
        assertThat(none.err()).contains("matches \"19990101\"", "allowed: a path, latest, pinned, a label, or a timestamp prefix");
    }

    @Test
    void withoutYesTheOperatorMustTypeTheDatabaseName() throws Exception {
        String into = "typed_" + System.nanoTime();
        Path log = dir.resolve("no.log");
        Process wrong = Cli.spawn(env, log, "restore", "latest", "--into", into);
        assertThat(wrong.waitFor()).isEqualTo(ExitCode.USAGE.status());
        assertThat(Files.readString(log)).contains("Type the database name (" + into + ")", "not confirmed");
        ProcessBuilder pb = new ProcessBuilder(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.backstop.Main", "restore", "latest", "--into", into)
                .redirectErrorStream(true);
        pb.environment().putAll(env);
        Process typed = pb.start();
        typed.getOutputStream().write((into + "\n").getBytes());
        typed.getOutputStream().close();
        String out = new String(typed.getInputStream().readAllBytes());
        assertThat(typed.waitFor()).as(out).isZero();
        assertThat(pg.count(into, "users")).isEqualTo(700);
    }

    @Test
    void aRestoreFailingHalfWayExitsNonZeroAndSaysSo() {
        // A cluster whose new databases reject CREATE INDEX: tables and rows restore, then the
        // post-data step (indexes) fails half-way.
        try (PgCluster other = PgCluster.start()) {
            String source = other.createDatabase("source");
            other.execute(source, "CREATE TABLE users(id int primary key)", "INSERT INTO users SELECT generate_series(1, 500)",
                    "CREATE TABLE orders(id int, user_id int REFERENCES users)", "INSERT INTO orders VALUES (1, 1)",
                    "CREATE INDEX orders_user ON orders(user_id)");
            Map<String, String> otherEnv = Cli.env(other, source, dir.resolve("other"));
            assertThat(Cli.run(otherEnv, "backup").status()).isZero();
            // template0 is where restores start from now: the refusal has to live there.
            other.execute("postgres", "UPDATE pg_database SET datallowconn = true WHERE datname = 'template0'");
            other.execute("template0", """
                    CREATE FUNCTION refuse() RETURNS event_trigger LANGUAGE plpgsql AS
                      $$ BEGIN RAISE EXCEPTION 'CREATE INDEX is refused in this cluster'; END $$""",
                    "CREATE EVENT TRIGGER refuse_alter ON ddl_command_end WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION refuse()");
            Cli.Result r = Cli.run(otherEnv, "restore", "latest", "--into", "half", "--yes");
            assertThat(r.status()).as(r.all()).isEqualTo(ExitCode.DUMP_FAILED.status());
            assertThat(r.err()).contains("stopped at the first error", "database half is incomplete",
                    "CREATE INDEX is refused", "INDEX public.orders_user");
            assertThat(other.count("half", "users")).as("the data had been loaded").isEqualTo(500);
        }
    }
}
