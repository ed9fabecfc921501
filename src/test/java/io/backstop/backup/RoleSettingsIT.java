package io.backstop.backup;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.catalog.Manifest;
import io.backstop.catalog.Manifests;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Settings production roles carry (a short idle-in-transaction timeout, a short statement
 * timeout, a lock timeout) are for the application's sessions: a backup by such a role still
 * succeeds, as a plain pg_dump by it does.
 */
class RoleSettingsIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    @Test
    void aRoleWithShortIdleStatementAndLockTimeoutsStillBacksUpADumpThatTakesSeconds() throws Exception {
        String db = Fixtures.bigDatabase(pg);
        String role = "strict_" + Long.toHexString(System.nanoTime());
        pg.execute("postgres", "CREATE ROLE " + role + " LOGIN SUPERUSER PASSWORD 'strict-pw'",
                "ALTER ROLE " + role + " SET idle_in_transaction_session_timeout = '1s'",
                "ALTER ROLE " + role + " SET statement_timeout = '50ms'",
                "ALTER ROLE " + role + " SET lock_timeout = '10ms'");
        // gzip level 9 makes the dump take seconds here, far past the role's one second of idle transaction.
        Path config = dir.resolve("backstop.conf");
        Files.writeString(config, "backstop.pg-dump.compress = \"gzip:9\"\n");
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        env.put("PGUSER", role);
        env.put("PGPASSWORD", "strict-pw");
        env.put("BACKSTOP_CONFIG", config.toString());

        // The premise: pg_dump alone, as this role, succeeds.
        Path plain = dir.resolve("plain.dump");
        ProcessBuilder pb = new ProcessBuilder(List.of(pg.bin().resolve("pg_dump").toString(), "-Fc", "-Z1",
                "-f", plain.toString(), "-h", pg.host(), "-p", Integer.toString(pg.port()), "-U", role, db));
        pb.environment().put("PGPASSWORD", "strict-pw");
        pb.redirectErrorStream(true).redirectOutput(dir.resolve("pg_dump.log").toFile());
        Process p = pb.start();
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(p.exitValue()).as(Files.readString(dir.resolve("pg_dump.log"))).isZero();

        Cli.Result backup = Cli.run(env, "backup");
        assertThat(backup.status()).as(backup.all()).isZero();
        Path dump = Fixtures.finalDumps(dir.resolve("backups/app/hourly")).get(0);
        Manifest m = new Manifests().read(dump);
        assertThat(m.rowCounts()).containsEntry("public.big", 1_500_000L).containsEntry("public.small", 10L);
        assertThat(m.durationSeconds()).as("the backup outlived the role's idle-in-transaction timeout").isGreaterThan(1.0);

        Cli.Result check = Cli.run(env, "check");
        assertThat(check.status()).as(check.all()).isZero();
        Cli.Result verify = Cli.run(env, "verify");
        assertThat(verify.status()).as(verify.all()).isZero();
    }
}
