package io.backstop.backup;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.app.Components;
import io.backstop.catalog.BackupLayout;
import io.backstop.counts.TargetState;
import io.backstop.files.TargetLock;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two backups of one target at once: one waits for the other's lock; neither fails because of the
 * other. The sweep a backup runs under the target's lock must leave alone what another, live,
 * backup writes after releasing it (state.json, a manifest, the latest link).
 */
class BackupRaceIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    @Test
    void twoBackupsOfOneTargetRacingNeverFailEachOther() throws Exception {
        String db = pg.createDatabase("race");
        pg.execute(db, "CREATE TABLE users(id int)", "INSERT INTO users SELECT generate_series(1, 20)");
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        int rounds = 25;
        List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> racers = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            Thread t = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < rounds; i++) {
                    Cli.Result b = Cli.run(env, "backup", "--label", "race", "--wait", "120");
                    if (b.status() != 0) {
                        failures.add(b.all());
                    }
                }
            }, "racer-" + r);
            t.start();
            racers.add(t);
        }
        start.countDown();
        for (Thread t : racers) {
            t.join(Duration.ofMinutes(4).toMillis());
        }
        assertThat(failures).as("backups that failed while another ran").isEmpty();
        assertThat(Fixtures.temporaries(dir.resolve("backups"))).as("temporaries left").isEmpty();
    }

    @Test
    void aThousandSweepsNeverTakeTheStateFileTemporaryOfALiveWriter() throws Exception {
        Map<String, String> env = Cli.env(pg, "postgres", dir.resolve("backups"));
        Components main = io.backstop.testing.Cli.components(env);
        BackupLayout layout = main.layout();
        Backup backup = main.backup();
        java.nio.file.Files.createDirectories(layout.targetDir("app"));
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> sweepFailed = new AtomicReference<>();
        Thread sweeper = new Thread(() -> {
            while (!stop.get()) {
                try (TargetLock lock = TargetLock.acquire(layout.lockFile("app"), "app", Duration.ofSeconds(30))) {
                    backup.sweep("app");
                } catch (Throwable e) {
                    sweepFailed.set(e);
                    return;
                }
            }
        }, "sweeper");
        sweeper.start();
        try {
            for (int i = 0; i < 1000; i++) {
                long n = i;
                // The state writer runs under the state lock only, as a backup's after-lock update does.
                main.states().update("app", s -> s.withBaseline(new TargetState.Baseline(java.time.Instant.now(),
                        n, "race.dump", "1", 1, Map.of("public.users", n))));
            }
        } finally {
            stop.set(true);
            sweeper.join();
        }
        assertThat(sweepFailed.get()).isNull();
        assertThat(main.states().read("app").baseline().rowCounts()).containsEntry("public.users", 999L);
    }
}
