package io.backstop.verify;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Manifests;
import io.backstop.files.Hashing;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** backstop verify and the scheduled drill, against a real server. */
class DrillIT {
    private final PgCluster pg = PgCluster.shared();
    private final Manifests manifests = new Manifests();

    @TempDir
    Path dir;

    private long scratchDatabases() {
        try (var c = pg.connect("postgres"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_database WHERE datname LIKE 'backstop\\_drill\\_%'")) {
            rs.next();
            return rs.getLong(1);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aDrillPassesOnAGoodBackupFailsOnATamperedOneAndLeavesNoScratchDatabase() throws Exception {
        String db = pg.createDatabase("drill");
        pg.execute(db, "CREATE TABLE users(id int)", "INSERT INTO users SELECT generate_series(1, 400)");
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        assertThat(Cli.run(env, "backup").status()).isZero();
        Path dump = Fixtures.finalDumps(dir.resolve("backups/app/hourly")).get(0);

        Cli.Result ok = Cli.run(env, "verify");
        assertThat(ok.status()).as(ok.all()).isZero();
        assertThat(ok.out()).contains("passed", "1 tables, 400 rows, all as in the manifest");
        assertThat(manifests.read(dump).lastDrill().passed()).isTrue();
        assertThat(scratchDatabases()).isZero();

        // Tampered after verification: another valid archive in its place, sha256 "fixed" in the manifest.
        pg.execute(db, "DELETE FROM users WHERE id > 100");
        Path other = dir.resolve("other");
        assertThat(Cli.run(Cli.env(pg, db, other), "backup").status()).isZero();
        Path otherDump = Fixtures.finalDumps(other.resolve("app/hourly")).get(0);
        Files.copy(otherDump, dump, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        ObjectNode m = (ObjectNode) manifests.json().readTree(BackupLayout.manifestOf(dump).toFile());
        m.put("sha256", Hashing.sha256(dump));
        Files.writeString(BackupLayout.manifestOf(dump), m.toString());

        Cli.Result bad = Cli.run(env, "verify", dump.toString());
        assertThat(bad.status()).as(bad.all()).isEqualTo(ExitCode.DUMP_FAILED.status());
        assertThat(bad.out()).contains("FAILED", "public.users: 100 rows restored, manifest says 400");
        assertThat(manifests.read(dump).lastDrill().passed()).isFalse();
        assertThat(scratchDatabases()).isZero();
    }

    /** Local drill clusters whose owner file names {@code pid}. */
    private static List<Path> clustersOf(long pid) {
        try (var dirs = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return dirs.filter(d -> d.getFileName().toString().startsWith(io.backstop.pg.LocalCluster.DIR_PREFIX))
                    .filter(d -> {
                        try {
                            return Files.readString(d.resolve("owner")).startsWith(pid + ".");
                        } catch (java.io.IOException e) {
                            return false;
                        }
                    }).toList();
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aDrillKilledHalfWayLeavesNoPostmasterAfterTheNextStartAndNoScratchDirectory() throws Exception {
        String db = Fixtures.bigDatabase(pg);
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_PG_DUMP_COMPRESS", "0");
        assertThat(Cli.run(env, "backup").status()).isZero();
        Process child = Cli.spawn(env, dir.resolve("verify.log"), "verify");
        Fixtures.await("the drill's cluster restoring", Duration.ofSeconds(60), () -> clustersOf(child.pid()).stream()
                .anyMatch(d -> Files.exists(d.resolve("data/postmaster.pid")))
                && !Fixtures.processesWith("--dbname=backstop_drill_").isEmpty());
        Path cluster = clustersOf(child.pid()).get(0);
        long postmaster = Long.parseLong(Files.readAllLines(cluster.resolve("data/postmaster.pid")).get(0).strip());
        child.destroyForcibly().waitFor();
        assertThat(ProcessHandle.of(postmaster)).as("pg_ctl detached the postmaster: it outlives the kill").isPresent();
        assertThat(scratchDatabases()).as("the production server never saw the drill").isZero();

        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_HTTP_PORT", "0");
        env.put("BACKSTOP_HTTP_BIND", "127.0.0.1");
        var daemon = io.backstop.testing.Cli.components(env).daemon();
        daemon.start();
        try {
            Fixtures.await("the postmaster stopped", Duration.ofSeconds(20), () -> ProcessHandle.of(postmaster).isEmpty());
            assertThat(cluster).as("its directory removed").doesNotExist();
        } finally {
            daemon.stop(Duration.ofSeconds(8));
        }
    }
}
