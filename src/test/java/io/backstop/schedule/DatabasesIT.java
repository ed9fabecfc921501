package io.backstop.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.app.Components;
import io.backstop.http.Health;
import io.backstop.http.HealthState;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code databases = "*"}: every database of a server is a target of its own; one created while the daemon
 * runs is backed up at the next run; one dropped raises the data-loss alarm like a dropped table.
 */
class DatabasesIT {
    @TempDir
    Path dir;

    @Test
    void everyDatabaseIsATargetANewOneIsBackedUpAtTheNextRunAndADroppedOneRaisesTheAlarm() throws Exception {
        try (PgCluster pg = PgCluster.start()) {
            for (String db : new String[] {"shop", "crm", "scratch_1"}) {
                pg.execute("postgres", "CREATE DATABASE " + db);
                pg.execute(db, "CREATE TABLE t(id int PRIMARY KEY)", "INSERT INTO t SELECT generate_series(1, 30)");
            }
            pg.execute("postgres", "CREATE DATABASE \"Odd Name\"");
            Path backups = dir.resolve("backups");
            Path conf = dir.resolve("backstop.conf");
            Files.writeString(conf, """
                    backstop {
                      schedule = "0/3 * * * * ?"
                      restore-drill.every = 0
                      row-counts.check-interval = 1s
                      targets = [
                        { name = pg, host = "127.0.0.1", port = %d, password = "%s", databases = "*",
                          exclude-databases = ["postgres", "scratch_*"] }
                      ]
                    }
                    """.formatted(pg.port(), pg.password().replace("\\", "\\\\").replace("\"", "\\\"")));
            Map<String, String> env = Map.of("BACKSTOP_CONFIG", conf.toString(), "BACKSTOP_BACKUP_DIR", backups.toString(),
                    "BACKSTOP_PG_BIN_DIR", PgCluster.binDir().toString(), "PATH", System.getenv("PATH"));
            Components main = Cli.components(env, conf);
            assertThat(main.settings().targets()).extracting(t -> t.name() + "=" + t.database())
                    .containsExactlyInAnyOrder("pg-shop=shop", "pg-crm=crm", "pg-Odd_Name-" + name("Odd Name") + "=Odd Name");
            HealthState state = new HealthState();
            main.seed(state);
            Daemon daemon = main.daemon(state);
            daemon.start();
            try {
                Fixtures.await("a verified backup of each database", Duration.ofSeconds(60),
                        () -> main.settings().targets().stream().allMatch(t -> state.runs(t.name(), "success") >= 1));
                assertThat(Files.list(backups).map(p -> p.getFileName().toString()))
                        .contains("pg-shop", "pg-crm").noneMatch(n -> n.startsWith("pg-scratch") || n.equals("pg-postgres"));

                pg.execute("postgres", "CREATE DATABASE billing");
                pg.execute("billing", "CREATE TABLE invoices(id int PRIMARY KEY)",
                        "INSERT INTO invoices SELECT generate_series(1, 12)");
                Fixtures.await("the new database backed up at the next run", Duration.ofSeconds(60),
                        () -> state.runs("pg-billing", "success") >= 1);
                assertThat(main.catalog().newestVerified("pg-billing").orElseThrow().manifest().orElseThrow().rowCounts())
                        .containsEntry("public.invoices", 12L);

                pg.execute("postgres", "DROP DATABASE crm WITH (FORCE)");
                Fixtures.await("the data-loss alarm of the dropped database", Duration.ofSeconds(60),
                        () -> state.get("pg-crm").alarm());
                Health.Report report = new Health(main.settings(), state, Clock.systemUTC()).evaluate();
                assertThat(report.targets()).filteredOn(t -> t.target().equals("pg-crm")).singleElement()
                        .satisfies(t -> assertThat(t.reasons()).contains(Health.Reason.DATA_DROP));
                assertThat(report.targets()).filteredOn(t -> t.target().equals("pg-shop")).singleElement()
                        .satisfies(t -> assertThat(t.reasons()).doesNotContain(Health.Reason.DATA_DROP));
                String metrics = new io.backstop.http.Metrics(main.settings(), state, "test").scrape();
                assertThat(metrics).contains("backstop_data_loss_alarm{target=\"pg-crm\"} 1.0")
                        .contains("backstop_backup_runs_total{result=\"success\",target=\"pg-billing\"}");
            } finally {
                daemon.stop(Duration.ofSeconds(8));
            }
            // After a restart the dropped database is still a target (its backups say which), so its alarm stays.
            Components again = Cli.components(env, conf);
            assertThat(again.settings().targets()).extracting(t -> t.name())
                    .contains("pg-crm", "pg-billing", "pg-shop");
            Cli.Result list = Cli.run(env, "list", "--target", "pg-billing");
            assertThat(list.status()).as(list.all()).isZero();
            assertThat(list.out()).contains("pg-billing");
        }
    }

    private static String name(String database) throws Exception {
        byte[] sha = java.security.MessageDigest.getInstance("SHA-1").digest(database.getBytes(
                java.nio.charset.StandardCharsets.UTF_8));
        return java.util.HexFormat.of().formatHex(sha, 0, 3);
    }
}
