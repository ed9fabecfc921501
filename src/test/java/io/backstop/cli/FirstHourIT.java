package io.backstop.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.ExitCode;
import io.backstop.testing.Cli;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a new user meets in the first hour, against a real server. */
class FirstHourIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    @Test
    void checkPrintsItsTableWithoutALogLineAboveIt() throws Exception {
        String db = pg.createDatabase("firsthour");
        pg.execute(db, "CREATE TABLE users(id int)", "INSERT INTO users SELECT generate_series(1, 100)");
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        assertThat(Cli.run(env, "backup", "--label", "first").status()).isZero();
        Cli.Result list = Cli.run(env, "list");
        assertThat(list.out()).contains("LABEL", "first");
        pg.execute(db, "DELETE FROM users");
        Path log = dir.resolve("check.log");
        Process check = Cli.spawn(env, log, "check");
        assertThat(check.waitFor()).isEqualTo(ExitCode.CHECK_FAILED.status());
        String out = Files.readString(log);
        assertThat(out).contains("public.users").doesNotContain(" WARN ");
    }

    @Test
    void aServerThatWantsAPasswordWhenNoneIsConfiguredSaysSo() {
        String db = pg.createDatabase("nopw");
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        env.remove("PGPASSWORD");
        Cli.Result r = Cli.run(env, "check");
        assertThat(r.status()).isEqualTo(ExitCode.DATABASE_UNREACHABLE.status());
        assertThat(r.err()).contains("asks for a password and none is configured", "PGPASSWORD_FILE")
                .doesNotContain("check host and port");
    }
}
