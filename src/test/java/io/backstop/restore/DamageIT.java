package io.backstop.restore;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.ExitCode;
import io.backstop.catalog.Manifests;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Damage, once found by anyone, is remembered; damage to state.json blocks only what needs the baseline. */
class DamageIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    @Test
    void aFlippedByteFoundOnceIsMarkedAndLatestMovesToTheNewestIntactBackup() throws Exception {
        String db = pg.createDatabase("flipped");
        pg.execute(db, "CREATE TABLE users(id int, name text)",
                "INSERT INTO users SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        assertThat(Cli.run(env, "backup").status()).isZero();
        pg.execute(db, "INSERT INTO users SELECT g, 'later' FROM generate_series(5001, 5100) g");
        assertThat(Cli.run(env, "backup").status()).isZero();
        List<Path> dumps = Fixtures.finalDumps(dir.resolve("backups/app/hourly"));
        assertThat(dumps).hasSize(2);
        Path newest = Fixtures.latest(dir.resolve("backups/app")).toRealPath();
        Path older = dumps.stream().map(DamageIT::real).filter(p -> !p.equals(newest)).findFirst().orElseThrow();

        // Bit rot: one byte in the middle, size and modification time as they were.
        FileTime time = Files.getLastModifiedTime(newest);
        try (RandomAccessFile f = new RandomAccessFile(newest.toFile(), "rw")) {
            long middle = f.length() / 2;
            f.seek(middle);
            int b = f.read();
            f.seek(middle);
            f.write(b ^ 0x10);
        }
        Files.setLastModifiedTime(newest, time);

        Cli.Result first = Cli.run(env, "restore", "latest", "--into", "flipped_copy", "--yes");
        assertThat(first.status()).as(first.all()).isEqualTo(ExitCode.BAD_BACKUP.status());
        assertThat(first.all()).contains("marked DAMAGED");
        assertThat(new Manifests().read(newest).damaged()).isTrue();
        assertThat(Fixtures.latest(dir.resolve("backups/app")).toRealPath()).isEqualTo(older);

        Cli.Result second = Cli.run(env, "restore", "latest", "--into", "flipped_copy", "--yes");
        assertThat(second.status()).as(second.all()).isZero();
        assertThat(second.out()).contains(older.getFileName().toString());
        assertThat(pg.count("flipped_copy", "users")).isEqualTo(5000L);

        Cli.Result list = Cli.run(env, "list", "--json");
        assertThat(list.out()).contains("DAMAGED");
        Cli.Result verify = Cli.run(env, "verify");
        assertThat(verify.status()).as(verify.all()).isZero();
        assertThat(verify.out()).contains(older.getFileName().toString());
    }

    @Test
    void aDamagedStateFileDoesNotBlockARestoreOrADrillOfAGoodBackup() throws Exception {
        String db = pg.createDatabase("statedamage");
        pg.execute(db, "CREATE TABLE users(id int)", "INSERT INTO users SELECT generate_series(1, 700)");
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        assertThat(Cli.run(env, "backup").status()).isZero();
        Path state = dir.resolve("backups/app/state.json");
        assertThat(state).exists();
        Files.writeString(state, "{\"format_version\": 1, \"baseline\": {\"row_cou");

        Cli.Result restore = Cli.run(env, "restore", "latest", "--into", "statedamage_copy", "--yes");
        assertThat(restore.status()).as(restore.all()).isZero();
        assertThat(restore.out()).contains("state.json is damaged");
        assertThat(pg.count("statedamage_copy", "users")).isEqualTo(700L);

        Cli.Result verify = Cli.run(env, "verify");
        assertThat(verify.status()).as(verify.all()).isZero();

        // What needs the baseline still refuses, naming the file.
        Cli.Result check = Cli.run(env, "check");
        assertThat(check.status()).isEqualTo(ExitCode.USAGE.status());
        assertThat(check.all()).contains(state.toString()).contains("damaged");
        assertThat(Files.readString(state)).as("the damaged state is left for the operator").endsWith("row_cou");
    }

    private static Path real(Path p) {
        try {
            return p.toRealPath();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
