package io.backstop.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.ExitCode;
import io.backstop.catalog.Manifests;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Faults found by injection from outside; each test failed before its fix. */
class HardeningIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    /** A transaction holding ACCESS EXCLUSIVE on {@code table}: pg_dump waits for it, so a dump stays in progress. */
    private Connection blockDumps(String db, String table) throws Exception {
        Connection c = pg.connect(db);
        c.setAutoCommit(false);
        try (Statement st = c.createStatement()) {
            st.execute("LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE");
        }
        return c;
    }

    private static HttpRequest post(LiveDaemon d, String path, String token) {
        return HttpRequest.newBuilder(d.uri(path)).header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.noBody()).build();
    }

    @Test
    void a409KeepsTheLockSoACliBackupCannotRunBesideTheDaemons() throws Exception {
        String db = pg.createDatabase("lock409");
        pg.execute(db, "CREATE TABLE t(id int)", "INSERT INTO t SELECT generate_series(1, 1000)");
        Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_HTTP_TOKEN", "tok");
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        Connection blocker = blockDumps(db, "t");
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("the start-up backup to be dumping", Duration.ofSeconds(30),
                    () -> d.get("/health").body().contains("\"backup_in_progress\":true"));
            HttpResponse<String> busy = d.send(post(d, "/backup?target=app", "tok"));
            assertThat(busy.statusCode()).as(busy.body()).isEqualTo(409);
            Path log = dir.resolve("cli.log");
            Process cli = Cli.spawn(env, log, "backup");
            assertThat(cli.waitFor()).as(Files.readString(log)).isEqualTo(ExitCode.BUSY.status());
            assertThat(Files.readString(log)).contains("is running", "--wait");
            blocker.commit();
            Fixtures.await("the daemon's backup", Duration.ofSeconds(30), () -> HttpIT.backedUp(d));
            assertThat(d.get("/health").statusCode()).isEqualTo(200);
            assertThat(Fixtures.finalDumps(dir.resolve("backups/app/hourly"))).hasSize(1);
        } finally {
            blocker.close();
        }
    }

    @Test
    void fiftyStalledClientsDoNotSilenceHealthDuringADump() throws Exception {
        String db = pg.createDatabase("stall");
        pg.execute(db, "CREATE TABLE t(id int)", "INSERT INTO t SELECT generate_series(1, 1000)");
        Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        Connection blocker = blockDumps(db, "t");
        List<Socket> stalled = new ArrayList<>();
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("a dump in progress", Duration.ofSeconds(30),
                    () -> d.get("/health").body().contains("\"backup_in_progress\":true"));
            for (int i = 0; i < 50; i++) {
                Socket s = new Socket("127.0.0.1", d.port);
                OutputStream out = s.getOutputStream();
                out.write("GET /hea".getBytes(StandardCharsets.US_ASCII)); // half a request line, then silence
                out.flush();
                stalled.add(s);
            }
            List<Long> micros = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                long start = System.nanoTime();
                HttpResponse<String> r = d.send(HttpRequest.newBuilder(d.uri("/health")).timeout(Duration.ofSeconds(3))
                        .GET().build());
                micros.add((System.nanoTime() - start) / 1000);
                assertThat(r.body()).contains("\"targets\"");
            }
            micros.sort(null);
            System.out.printf("health with 50 stalled clients: p50 %.2f ms, p99 %.2f ms%n", micros.get(50) / 1000.0,
                    micros.get(98) / 1000.0);
        } finally {
            for (Socket s : stalled) {
                s.close();
            }
            blocker.rollback();
            blocker.close();
        }
    }

    @Test
    void theStartUpSweepNeverDropsAScratchDatabaseWhoseDrillIsRunning() throws Exception {
        String db = pg.createDatabase("sweep");
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        var main = Cli.components(env);
        String running = "backstop_drill_running" + System.nanoTime();
        String abandoned = "backstop_drill_gone" + System.nanoTime();
        pg.execute("postgres", "CREATE DATABASE " + running, "CREATE DATABASE " + abandoned);
        // A drill in another process: it holds its lock and is connected to its scratch database.
        try (Connection lock = pg.connect("postgres"); Connection drill = pg.connect(running);
                var hold = lock.prepareStatement(io.backstop.verify.Drill.HOLD)) {
            hold.setString(1, running);
            hold.executeQuery().close();
            List<String> dropped = main.drill().sweep(main.settings().targets().get(0));
            assertThat(dropped).contains(abandoned).doesNotContain(running);
            assertThat(drill.isValid(2)).as("the running drill's connection survived").isTrue();
        } finally {
            pg.execute("postgres", "DROP DATABASE IF EXISTS " + running + " WITH (FORCE)");
        }
    }

    @Test
    void damagedBackupsAreShownAsSuchAndNeverJustifyDeletingTheIntactOne() throws Exception {
        String db = pg.createDatabase("damage");
        pg.execute(db, "CREATE TABLE t(id int, payload text)",
                "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
        Path backups = dir.resolve("backups");
        Map<String, String> env = Cli.env(pg, db, backups);
        env.put("BACKSTOP_RETENTION_HOURLY", "5");
        env.put("BACKSTOP_RETENTION_DAILY", "0");
        for (int i = 0; i < 4; i++) {
            assertThat(Cli.run(env, "backup").status()).isZero();
        }
        List<Path> hourly = Fixtures.finalDumps(backups.resolve("app/hourly"));
        assertThat(hourly).hasSize(4);
        Path intact = hourly.get(0);
        Path truncated = hourly.get(1);
        Path sql = hourly.get(2);
        Path rotten = hourly.get(3);
        byte[] bytes = Files.readAllBytes(truncated);
        Files.write(truncated, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        Files.writeString(sql, "-- plain SQL\nSELECT 1;\n");
        FileTime mtime = Files.getLastModifiedTime(rotten);
        byte[] noise = new byte[(int) Files.size(rotten)];
        new Random(7).nextBytes(noise);
        Files.write(rotten, noise);
        Files.setLastModifiedTime(rotten, mtime); // same size, same time: only its sha256 tells

        Cli.Result list = Cli.run(env, "list", "--json");
        assertThat(list.out()).contains("DAMAGED");
        Cli.Result table = Cli.run(env, "list");
        assertThat(table.out().lines().filter(l -> l.contains(truncated.getFileName().toString())).findFirst().orElseThrow())
                .contains("NO", "DAMAGED");

        env.put("BACKSTOP_RETENTION_HOURLY", "1");
        Cli.Result prune = Cli.run(env, "prune");
        assertThat(prune.status()).as(prune.all()).isZero();
        assertThat(intact).as("the only intact hourly stays").exists();
        assertThat(new Manifests().read(intact).verified()).isTrue();
        Cli.Result restore = Cli.run(env, "restore", "latest", "--into", "damage_back_" + System.nanoTime(), "--yes");
        assertThat(restore.status()).as(restore.all()).isZero();
        assertThat(restore.out()).contains(intact.getFileName().toString());
    }

    @Test
    void smallerFaults() throws Exception {
        String db = pg.createDatabase("small");
        pg.execute(db, "CREATE TABLE t(id int)", "INSERT INTO t SELECT generate_series(1, 100)",
                "CREATE TABLE \"Sessions\"(id int)", "INSERT INTO \"Sessions\" VALUES (1)");
        Path backups = dir.resolve("backups");
        Map<String, String> env = Cli.env(pg, db, backups);
        assertThat(Cli.run(env, "backup").status()).isZero();

        // verify of a corrupt file exits 8, as restore does
        Path dump = Fixtures.finalDumps(backups.resolve("app/hourly")).get(0);
        byte[] good = Files.readAllBytes(dump);
        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 1;
        Files.write(dump, flipped);
        assertThat(Cli.run(env, "verify", dump.toString()).status()).isEqualTo(ExitCode.BAD_BACKUP.status());
        assertThat(Cli.run(env, "restore", dump.toString(), "--into", "x" + System.nanoTime(), "--yes").status())
                .isEqualTo(ExitCode.BAD_BACKUP.status());
        Files.write(dump, good);

        // a damaged state.json stops a backup before it dumps
        Path state = backups.resolve("app/state.json");
        Files.writeString(state, "{ not json");
        Cli.Result broken = Cli.run(env, "backup");
        assertThat(broken.status()).isEqualTo(ExitCode.USAGE.status());
        assertThat(broken.err()).contains("state.json is damaged", "move it away");
        assertThat(Fixtures.finalDumps(backups.resolve("app/hourly"))).hasSize(1);
        Files.delete(state);

        // quoted names in row-counts.exclude work as they do in tables
        Path conf = dir.resolve("exclude.conf");
        Files.writeString(conf, "backstop.row-counts.exclude = [\"public.\\\"Sessions\\\"\"]\n");
        env.put("BACKSTOP_CONFIG", conf.toString());
        assertThat(Cli.run(env, "backup").status()).isZero();
        Path newest = Fixtures.finalDumps(backups.resolve("app/hourly")).stream().max(Path::compareTo).orElseThrow();
        assertThat(new Manifests().read(newest).rowCounts()).containsOnlyKeys("public.t");
    }

    @Test
    void aSignalledCliBackupExitsNineAndLeavesNoTemporaryFile() throws Exception {
        String db = pg.createDatabase("sigterm");
        pg.execute(db, "CREATE TABLE t(id int)", "INSERT INTO t SELECT generate_series(1, 100)");
        Path backups = dir.resolve("backups");
        Map<String, String> env = Cli.env(pg, db, backups);
        Connection blocker = blockDumps(db, "t");
        try {
            for (String signal : List.of("TERM", "INT")) {
                Path log = dir.resolve("sig-" + signal + ".log");
                Process p = Cli.spawn(env, log, "backup");
                Fixtures.await("pg_dump to run", Duration.ofSeconds(30),
                        () -> !Fixtures.processesWith("--snapshot=").isEmpty() && !Fixtures.temporaries(backups).isEmpty());
                new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).start().waitFor(); // env exec'd java
                assertThat(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).as(signal + " ended it").isTrue();
                assertThat(p.exitValue()).as(signal + ": " + Files.readString(log)).isEqualTo(ExitCode.INTERRUPTED.status());
                assertThat(Fixtures.temporaries(backups)).isEmpty();
            }
        } finally {
            blocker.rollback();
            blocker.close();
        }
    }
}
