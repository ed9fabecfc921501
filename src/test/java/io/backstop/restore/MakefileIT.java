package io.backstop.restore;

import io.backstop.testing.Tools;
import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Makefile's everyday targets against a real server, through the checkout's launcher. */
class MakefileIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    private String make(Map<String, String> env, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of(Tools.require("make", "make"), "-s", "BACKSTOP=./backstop"));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return p.waitFor() + "\n" + out;
    }

    @Test
    void backupBeforeAMigrationThenCheckListAndRestore() throws Exception {
        String db = pg.createDatabase("make");
        pg.execute(db, "CREATE TABLE users(id int)", "INSERT INTO users SELECT generate_series(1, 50)");
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        assertThat(make(env, "backup")).startsWith("0\n").contains("-pre-migration.dump", "verified");
        assertThat(Fixtures.finalDumps(dir.resolve("backups/app/manual"))).hasSize(1);
        assertThat(make(env, "list")).startsWith("0\n").contains("manual");
        pg.execute(db, "DELETE FROM users");
        assertThat(make(env, "check")).as("make check fails the migration gate").doesNotStartWith("0\n")
                .contains("DATA DROPPED");
        assertThat(make(env, "restore", "BACKUP=pre-migration", "INTO=" + db)).contains("Type the database name")
                .contains("not confirmed");
        assertThat(make(env, "help")).contains("backup", "down-volumes", "restore");
    }
}
