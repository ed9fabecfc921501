package io.backstop.pitr;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.http.LiveDaemon;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `backstop doctor` and `backstop pitr drop-slot` against real servers. */
class PitrCommandsIT {
    @TempDir
    Path dir;

    private PgCluster pg;

    @AfterEach
    void stopServer() {
        if (pg != null) {
            pg.close();
        }
    }

    @Test
    void doctorNamesEachMissWithItsFixOnAServerThatCannotStream() {
        PgCluster shared = PgCluster.shared(); // wal_level minimal, no WAL senders
        String db = shared.createDatabase("doctor");
        shared.execute(db, "DROP ROLE IF EXISTS doctor_plain", "CREATE ROLE doctor_plain LOGIN PASSWORD 'pw-doctor'");
        Map<String, String> env = Cli.env(shared, db, dir.resolve("backups"));
        env.put("PGUSER", "doctor_plain");
        env.put("PGPASSWORD", "pw-doctor");
        Cli.Result r = Cli.run(env, "doctor");
        assertThat(r.status()).as(r.all()).isEqualTo(2);
        assertThat(r.out()).contains("FIX   replication attribute", "ALTER ROLE \"doctor_plain\" REPLICATION;",
                "FIX   wal_level", "ALTER SYSTEM SET wal_level = replica;", "FIX   max_wal_senders",
                "ok    login", "ok    replay binaries");
        assertThat(r.all()).doesNotContain("pw-doctor");
    }

    @Test
    void doctorPassesOnAStreamingServerSaysHowToCapTheSlotAndWhichPgHbaLineIsMissing() throws Exception {
        pg = PgCluster.startReplicating(Map.of());
        String db = pg.createDatabase("doctorok");
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        Cli.Result ok = Cli.run(env, "doctor");
        assertThat(ok.status()).as(ok.all()).isZero();
        assertThat(ok.out()).contains("ok    pg_hba.conf", "ok    wal_level", "WARN  slot cap",
                "ALTER SYSTEM SET max_slot_wal_keep_size", "ok    pg_receivewal").doesNotContain("FIX");

        // The official image's pg_hba.conf: no replication line for TCP connections.
        Path hba = pg.dataDirectory().resolve("pg_hba.conf");
        String lines = Files.readString(hba, StandardCharsets.UTF_8);
        Files.writeString(hba, lines.lines().filter(l -> !l.contains("replication")).reduce("", (a, b) -> a + b + "\n"),
                StandardCharsets.UTF_8);
        pg.execute("postgres", "SELECT pg_reload_conf()");
        Fixtures.await("pg_hba.conf reloaded", Duration.ofSeconds(30),
                () -> Cli.run(env, "doctor").out().contains("FIX   pg_hba.conf"));
        Cli.Result hbaMiss = Cli.run(env, "doctor");
        assertThat(hbaMiss.status()).isEqualTo(2);
        assertThat(hbaMiss.out()).contains("host replication postgres 127.0.0.1/32 scram-sha-256");
    }

    @Test
    void dropSlotRemovesTheSlotOnlyWhenNothingStreamsThroughIt() throws Exception {
        pg = PgCluster.startReplicating(Map.of());
        String db = pg.createDatabase("dropslot");
        Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_RESTORE_DRILL_EVERY", "0");
        env.put("BACKSTOP_PITR", "true");
        assertThat(Cli.run(env, "pitr", "drop-slot").out()).contains("no replication slot backstop_app", "nothing to drop");
        try (LiveDaemon d = new LiveDaemon(env)) {
            Fixtures.await("streaming", Duration.ofSeconds(60), () -> d.get("/metrics").body()
                    .contains("backstop_wal_streaming{target=\"app\"} 1.0"));
            Cli.Result busy = Cli.run(env, "pitr", "drop-slot");
            assertThat(busy.status()).isEqualTo(2);
            assertThat(busy.err()).contains("is in use", "stop the daemon first");
        }
        Cli.Result dropped = Cli.run(env, "pitr", "drop-slot");
        assertThat(dropped.status()).as(dropped.all()).isZero();
        assertThat(dropped.out()).contains("dropped replication slot backstop_app");
        assertThat(pg.count("postgres", "pg_replication_slots")).isZero();
        Cli.Result list = Cli.run(env, "list");
        assertThat(list.out()).contains("app: recoverable to any second:");
    }
}
