package io.backstop.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.ExitCode;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `backstop guard --backup-first` against a live daemon: a labelled backup before answering ask. */
class GuardBackupFirstIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    @Test
    void aDestructiveCommandGetsABackupFirstAndAHarmlessOneDoesNot() {
        String db = pg.createDatabase("guard");
        pg.execute(db, "CREATE TABLE users(id int)", "INSERT INTO users VALUES (1)");
        Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_HTTP_TOKEN", "guard-token");
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("the start-up backup", Duration.ofSeconds(20), () -> HttpIT.backedUp(d));
            String url = "http://127.0.0.1:" + d.port;

            Cli.Result ask = Cli.run(env, "guard", "--backup-first", "--url", url, "--", "docker", "compose", "down", "-v");
            assertThat(ask.status()).as(ask.all()).isEqualTo(ExitCode.GUARD_ASK.status());
            assertThat(ask.out()).contains("ask:", "A backup was taken first: app/safety/app-", "-pre-guard.dump");
            assertThat(Fixtures.finalDumps(dir.resolve("backups/app/safety"))).hasSize(1);

            Cli.Result allow = Cli.run(env, "guard", "--backup-first", "--url", url, "--", "ls", "-la");
            assertThat(allow.status()).isZero();
            assertThat(Fixtures.finalDumps(dir.resolve("backups/app/safety"))).as("no backup for a harmless command")
                    .hasSize(1);

            env.put("BACKSTOP_HTTP_TOKEN", "wrong");
            Cli.Result refused = Cli.run(env, "guard", "--backup-first", "--url", url, "--", "dropdb", "app");
            assertThat(refused.status()).isEqualTo(ExitCode.GUARD_ASK.status());
            assertThat(refused.out()).contains("No backup was taken", "answered 401");
        }
        Cli.Result down = Cli.run(env, "guard", "--backup-first", "--url", "http://127.0.0.1:1", "--json", "--",
                "dropdb", "app");
        assertThat(down.status()).isEqualTo(ExitCode.GUARD_ASK.status());
        assertThat(down.out()).contains("\"decision\":\"ask\"", "No backup was taken: no Backstop daemon answered");
        Cli.Result blocked = Cli.run(env, "guard", "--", "rm", "-rf", "backups");
        assertThat(blocked.status()).isEqualTo(ExitCode.GUARD_BLOCK.status());
    }

    @Test
    void aDestructiveVerdictSaysHowOldTheLastVerifiedBackupIsOrThatThereIsNone() throws Exception {
        String db = pg.createDatabase("guardage");
        pg.execute(db, "CREATE TABLE users(id int)", "INSERT INTO users VALUES (1)");
        Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("the start-up backup", Duration.ofSeconds(20), () -> HttpIT.backedUp(d));
            Cli.Result fromDaemon = Cli.run(env, "guard", "--url", "http://127.0.0.1:" + d.port, "psql", "-c",
                    "DROP TABLE users");
            assertThat(fromDaemon.status()).isEqualTo(ExitCode.GUARD_ASK.status());
            assertThat(fromDaemon.out()).contains("The last verified backup of target app was taken", "min ago");
        }
        // From the configuration's backup directory, with no daemon.
        Cli.Result fromDir = Cli.run(env, "guard", "psql", "-c", "TRUNCATE users");
        assertThat(fromDir.out()).contains("The last verified backup of target app was taken");
        Cli.Result harmless = Cli.run(env, "guard", "psql", "-c", "SELECT 1");
        assertThat(harmless.out()).doesNotContain("last verified backup");

        Map<String, String> none = LiveDaemon.env(pg, db, java.nio.file.Files.createDirectories(dir.resolve("empty")));
        Cli.Result noBackup = Cli.run(none, "guard", "psql", "-c", "TRUNCATE users");
        assertThat(noBackup.out()).contains("Target app has NO verified backup: take one first");
    }
}
