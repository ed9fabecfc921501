package io.backstop.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.ExitCode;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where a drill's throwaway cluster lives, and what an operator sees when it cannot live there:
 * an ordinary checkout path, a drill that cannot start, and what a failed start leaves behind.
 */
class DrillPlaceIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    /** A backup directory as deep as a checkout under a home directory, and reachable by the server's user. */
    private Path longBackupDir() throws Exception {
        Path deep = dir.resolve("home-alice-projects-backstop-checkout").resolve("a-rather-long-directory-name")
                .resolve("backups-of-the-application-database");
        Files.createDirectories(deep);
        for (Path p = deep; p.startsWith(dir); p = p.getParent()) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        assertThat(deep.resolve(".drill-scratch/backstop-pg-1234567890123456789/.s.PGSQL.54321").toString().length())
                .as("the path a socket in the drill cluster's directory would have").isGreaterThan(110);
        return deep;
    }

    @Test
    void verifyAndTheDaemonsDrillPassUnderABackupDirectoryOver110Bytes() throws Exception {
        String db = pg.createDatabase("drilllongpath");
        pg.execute(db, "CREATE TABLE users(id int)", "INSERT INTO users SELECT generate_series(1, 300)");
        Path backups = longBackupDir();
        Map<String, String> env = LiveDaemon.env(pg, db, backups);
        assertThat(Cli.run(env, "backup").status()).isZero();

        Cli.Result verify = Cli.run(env, "verify");
        assertThat(verify.status()).as(verify.all()).isZero();
        assertThat(verify.out()).contains("passed");

        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_RESTORE_DRILL_EVERY", "2s");
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("a passing scheduled drill", Duration.ofSeconds(60),
                    () -> d.get("/metrics").body().contains("backstop_restore_drill_last_result{target=\"app\"} 1.0"));
        }
        assertThat(clusterDirs(backups.resolve(".drill-scratch"))).as("drill clusters left").isEmpty();
    }

    @Test
    void aDrillThatCannotStartIsDrillNotRunOnHealthAndMinusTwoInTheMetricAndLeavesNoCluster() throws Exception {
        String db = pg.createDatabase("drillimpossible");
        pg.execute(db, "CREATE TABLE users(id int)", "INSERT INTO users SELECT generate_series(1, 300)");
        // A scratch directory the server can never use: its user may not enter it (as root, initdb runs as postgres;
        // otherwise, the cluster's directory cannot even be created there).
        Path scratch = dir.resolve("scratch");
        Files.createDirectories(scratch);
        Files.setPosixFilePermissions(scratch, PosixFilePermissions.fromString("r-x------"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        Path config = dir.resolve("backstop.conf");
        Files.writeString(config, "backstop.restore-drill.scratch-dir = \"" + scratch + "\"\n");
        Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_CONFIG", config.toString());
        assertThat(Cli.run(env, "backup").status()).isZero();

        Cli.Result verify = Cli.run(env, "verify");
        assertThat(verify.status()).as(verify.all()).isEqualTo(ExitCode.TOOLS.status());
        assertThat(verify.out()).contains("NOT RUN").contains("cannot start a throwaway PostgreSQL cluster");

        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_RESTORE_DRILL_EVERY", "2s");
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("DRILL_NOT_RUN on /health", Duration.ofSeconds(60),
                    () -> d.get("/health").body().contains("DRILL_NOT_RUN"));
            assertThat(d.get("/health").statusCode()).isEqualTo(503);
            assertThat(d.get("/metrics").body()).contains("backstop_restore_drill_last_result{target=\"app\"} -2.0");
        }
        Files.setPosixFilePermissions(scratch, PosixFilePermissions.fromString("rwx------"));
        assertThat(clusterDirs(scratch)).as("drill clusters left in " + scratch).isEmpty();
    }

    private static java.util.List<Path> clusterDirs(Path parent) throws Exception {
        if (!Files.isDirectory(parent)) {
            return java.util.List.of();
        }
        try (Stream<Path> s = Files.list(parent)) {
            return s.filter(p -> p.getFileName().toString().startsWith("backstop-pg-")).toList();
        }
    }
}
