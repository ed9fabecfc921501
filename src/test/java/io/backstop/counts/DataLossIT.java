package io.backstop.counts;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.backstop.ExitCode;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Manifests;
import io.backstop.schedule.Daemon;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The incidents behind Backstop, replayed against a real server, each from a seeded database with a verified backup. */
class DataLossIT {
    private final PgCluster pg = PgCluster.shared();
    private final Manifests manifests = new Manifests();

    @TempDir
    Path dir;

    private String db;
    private Map<String, String> env;
    private Path backups;

    @BeforeEach
    void seedAndBackUp() {
        db = pg.createDatabase("incident");
        pg.execute(db, "CREATE TABLE users(id int primary key, email text)",
                "INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 1000) g",
                "CREATE TABLE orders(id int, user_id int)", "INSERT INTO orders SELECT g, g % 1000 FROM generate_series(1, 2000) g",
                "CREATE SCHEMA billing", "CREATE TABLE billing.invoices(id int)",
                "INSERT INTO billing.invoices SELECT generate_series(1, 300)",
                "CREATE TABLE sessions(id int)", "INSERT INTO sessions SELECT generate_series(1, 50)");
        backups = dir.resolve("backups");
        env = Cli.env(pg, db, backups);
        env.put("BACKSTOP_RETENTION_HOURLY", "24");
        Cli.Result r = Cli.run(env, "backup");
        assertThat(r.status()).as(r.all()).isZero();
    }

    private Cli.Result check() {
        return Cli.run(env, "check");
    }

    private JsonNode checkJson() throws Exception {
        Cli.Result r = Cli.run(env, "check", "--json");
        return manifests.json().readTree(r.out()).get(0);
    }

    private void assertAlarm(Cli.Result r, String... expected) {
        assertThat(r.status()).as(r.all()).isEqualTo(ExitCode.CHECK_FAILED.status());
        assertThat(r.out()).contains("DATA DROPPED").contains(expected);
    }

    @Test
    void deleteWithoutWhere() throws Exception {
        pg.execute(db, "DELETE FROM users");
        assertAlarm(check(), "public.users", "EMPTIED", "pinned: app/hourly/app-");
        JsonNode json = checkJson();
        assertThat(json.get("alarm").asBoolean()).isTrue();
        assertThat(json.get("drops").get(0).get("kind").asText()).isEqualTo("EMPTIED");
        assertThat(json.get("drops").get(0).get("before").asLong()).isEqualTo(1000);
    }

    @Test
    void deleteOfMostRowsAboveTheThreshold() {
        pg.execute(db, "DELETE FROM orders WHERE id <= 200");
        assertAlarm(check(), "public.orders", "DROPPED", "-10.0%");
    }

    @Test
    void truncate() {
        pg.execute(db, "TRUNCATE orders");
        assertAlarm(check(), "public.orders", "EMPTIED");
    }

    @Test
    void dropTable() {
        pg.execute(db, "DROP TABLE users");
        assertAlarm(check(), "public.users", "gone", "GONE");
    }

    @Test
    void dropSchemaCascade() {
        pg.execute(db, "DROP SCHEMA billing CASCADE");
        assertAlarm(check(), "billing.invoices", "GONE");
    }

    @Test
    void databaseDroppedAndRecreatedEmpty() {
        recreateDatabase();
        Cli.Result r = check();
        assertAlarm(r, "RECREATED", "database OID changed");
    }

    @Test
    void databaseRecreatedWithTheSameTablesButNoRows() {
        recreateDatabase();
        pg.execute(db, "CREATE TABLE users(id int primary key, email text)", "CREATE TABLE orders(id int, user_id int)",
                "CREATE SCHEMA billing", "CREATE TABLE billing.invoices(id int)", "CREATE TABLE sessions(id int)");
        assertAlarm(check(), "RECREATED", "EMPTIED");
    }

    @Test
    void databaseGoneAltogether() {
        pg.execute("postgres", "DROP DATABASE " + db + " WITH (FORCE)");
        assertAlarm(check(), "RECREATED", "does not exist");
    }

    @Test
    void aMisspelledDatabaseNameIsAConfigurationErrorNotAnIncident() throws Exception {
        env.put("PGDATABASE", db + "_typo");
        Cli.Result r = check();
        assertThat(r.status()).as(r.all()).isEqualTo(ExitCode.USAGE.status());
        assertThat(r.all()).contains("database \"" + db + "_typo\" does not exist", "PGDATABASE", "\"" + db + "\"")
                .doesNotContain("RECREATED");
        Path state = backups.resolve("app/state.json");
        assertThat(manifests.json().readTree(state.toFile()).path("alarm").isNull()
                || manifests.json().readTree(state.toFile()).path("alarm").isMissingNode()).as("alarm in " + state).isTrue();
        for (Path dump : Fixtures.finalDumps(backups)) {
            assertThat(manifests.read(dump).pinned()).as(dump + " pinned").isFalse();
        }
        // The same name, once backed up and then gone, is the incident it always was.
        env.put("PGDATABASE", db);
        pg.execute("postgres", "DROP DATABASE " + db + " WITH (FORCE)");
        assertAlarm(check(), "RECREATED", "does not exist");
    }

    @Test
    void aThreePercentDeleteAndGrowthRaiseNothing() {
        pg.execute(db, "DELETE FROM users WHERE id <= 30", "INSERT INTO orders SELECT g, 1 FROM generate_series(3000, 9000) g");
        Cli.Result r = check();
        assertThat(r.status()).as(r.all()).isZero();
        assertThat(r.out()).contains("check app: ok", "-3.0%", "+300.1%");
    }

    @Test
    void excludedTablesAreNeverCounted() throws Exception {
        Path conf = dir.resolve("exclude.conf");
        Files.writeString(conf, "backstop.row-counts.exclude = [\"public.sessions\"]\n");
        env.put("BACKSTOP_CONFIG", conf.toString());
        assertThat(Cli.run(env, "ack").status()).isZero();
        pg.execute(db, "DELETE FROM sessions");
        Cli.Result r = check();
        assertThat(r.status()).as(r.all()).isZero();
        assertThat(r.out()).doesNotContain("sessions");
    }

    @Test
    void pinnedEvidenceSurvives48HoursOfRotationRestoresAndAckReleasesIt() throws Exception {
        Path evidence = Fixtures.finalDumps(backups.resolve("app/hourly")).get(0);
        Manifest before = manifests.read(evidence);
        pg.execute(db, "DELETE FROM users");
        assertAlarm(check(), "EMPTIED");
        assertThat(manifests.read(evidence).pinned()).isTrue();
        assertThat(manifests.read(evidence).pinReason()).contains("data-loss alarm", "public.users");

        for (int hour = 0; hour < 48; hour++) {
            Cli.Result r = Cli.run(env, "backup");
            assertThat(r.status()).as(r.all()).isZero();
            assertThat(r.err()).contains("data-loss alarm on target app");
        }
        assertThat(evidence).exists();
        assertThat(manifests.read(evidence).pinned()).isTrue();
        assertThat(Fixtures.finalDumps(backups.resolve("app/hourly"))).hasSize(25); // 24 + the pinned one
        JsonNode state = manifests.json().readTree(backups.resolve("app/state.json").toFile());
        assertThat(state.get("baseline").get("row_counts").get("public.users").asLong())
                .as("the baseline does not move while the alarm is raised").isEqualTo(1000);

        String restored = pg.createDatabase("evidence");
        pg.restore(evidence, restored);
        for (Map.Entry<String, Long> e : before.rowCounts().entrySet()) {
            assertThat(pg.count(restored, e.getKey())).as(e.getKey()).isEqualTo(e.getValue());
        }

        Cli.Result ack = Cli.run(env, "ack");
        assertThat(ack.out()).contains("alarm cleared, pinned backups released");
        assertThat(manifests.read(evidence).pinned()).isFalse();
        assertThat(check().status()).isZero();
        assertThat(Cli.run(env, "backup").status()).isZero();
        assertThat(evidence).as("rotation resumes once released").doesNotExist();
        assertThat(Fixtures.finalDumps(backups.resolve("app/hourly"))).hasSize(24);
    }

    @Test
    void recoveryClearsTheAlarmByItself() {
        pg.execute(db, "CREATE TABLE users_copy AS SELECT * FROM users", "DELETE FROM users");
        assertAlarm(check(), "EMPTIED");
        pg.execute(db, "INSERT INTO users SELECT * FROM users_copy");
        Cli.Result r = check();
        assertThat(r.status()).as(r.all()).isZero();
        Path evidence = Fixtures.finalDumps(backups.resolve("app/hourly")).get(0);
        assertThat(manifests.read(evidence).pinned()).as("the evidence stays pinned until ack").isTrue();
        Cli.Result restore = Cli.run(env, "restore", "pinned", "--into", pg.createDatabase("still"), "--yes");
        assertThat(restore.status()).as("the playbook's next step still works: " + restore.all()).isZero();
        Cli.Result ack = Cli.run(env, "ack");
        assertThat(ack.out()).as(ack.all()).contains("alarm cleared, pinned backups released");
        assertThat(manifests.read(evidence).pinned()).isFalse();
    }

    @Test
    void theAlarmSurvivesADaemonRestartAndIsRaisedWithinOneCheckInterval() throws Exception {
        env.put("BACKSTOP_CHECK_INTERVAL", "1s");
        env.put("BACKSTOP_SCHEDULE", "0 0 * * * ?");
        Daemon first = io.backstop.testing.Cli.components(env).daemon();
        first.start();
        try {
            Instant started = Instant.now();
            Fixtures.await("the daemon's first check", Duration.ofSeconds(30), () -> lastCheck().isAfter(started));
            assertThat(readAlarm()).as("no alarm before the drop").isNull();
            pg.execute(db, "TRUNCATE billing.invoices");
            // Raised by the checks that follow the drop (every second), not at the next backup (an hour away).
            Fixtures.await("the alarm in state.json", Duration.ofSeconds(10), () -> readAlarm() != null);
        } finally {
            first.stop(Duration.ofSeconds(8));
        }
        Daemon second = io.backstop.testing.Cli.components(env).daemon();
        Instant restarted = Instant.now();
        second.start();
        try {
            // A check of the restarted daemon has run and saw the drop again: the alarm stays raised.
            Fixtures.await("a check after the restart", Duration.ofSeconds(30), () -> lastCheck().isAfter(restarted));
            assertThat(readAlarm()).as("still raised after the restart").isNotNull();
            assertThat(readAlarm().get("drops").get(0).get("table").asText()).isEqualTo("billing.invoices");
        } finally {
            second.stop(Duration.ofSeconds(8));
        }
        assertThat(check().status()).isEqualTo(ExitCode.CHECK_FAILED.status());
    }

    /** When the last row-count check ran, as state.json says; the epoch before the first. */
    private Instant lastCheck() {
        try {
            JsonNode check = manifests.json().readTree(backups.resolve("app/state.json").toFile()).get("last_check");
            return check == null || check.isNull() ? Instant.EPOCH : Instant.parse(check.get("at").asText());
        } catch (java.io.IOException | RuntimeException e) {
            return Instant.EPOCH;
        }
    }

    private JsonNode readAlarm() {
        try {
            JsonNode alarm = manifests.json().readTree(backups.resolve("app/state.json").toFile()).get("alarm");
            return alarm == null || alarm.isNull() ? null : alarm;
        } catch (java.io.IOException e) {
            return null;
        }
    }

    private void recreateDatabase() {
        pg.execute("postgres", "DROP DATABASE " + db + " WITH (FORCE)", "CREATE DATABASE " + db);
    }

}
