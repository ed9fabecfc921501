package io.backstop.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.config.Secret;
import io.backstop.config.Settings;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The fleet's half of the target lock and its check-in, against a real server: two nodes (two {@link Fleet}s in
 * this JVM, each with its own connections, as two hosts would have), a lock that one holds and the other waits
 * for, released when its holder's connection dies; a node whose clock drifts is warned about.
 */
class FleetLockIT {
    private final PgCluster pg = PgCluster.shared();

    private Settings.Cluster cluster(String db, String node) {
        return new Settings.Cluster("jdbc:postgresql://127.0.0.1:" + pg.port() + "/" + db, PgCluster.SUPERUSER,
                Secret.of(pg.password()), "backstop_fleet", node, Duration.ofSeconds(1), Duration.ofSeconds(5), 2);
    }

    private static long in(Duration d) {
        return System.nanoTime() + d.toNanos();
    }

    @Test
    void aLockHeldByOneNodeWaitsTheOtherAndEndsWithItsHoldersConnection() throws Exception {
        String db = pg.createDatabase("fleet_lock");
        try (Fleet a = new Fleet(cluster(db, "node-a"), "test", Clock.systemUTC());
                Fleet b = new Fleet(cluster(db, "node-b"), "test", Clock.systemUTC())) {
            AutoCloseable held = a.hold("t1/.lock", "t1", in(Duration.ofSeconds(5)));
            BackstopException busy = catchThrowableOfType(BackstopException.class,
                    () -> b.hold("t1/.lock", "t1", in(Duration.ofMillis(300))));
            assertThat(busy.code()).isEqualTo(ExitCode.BUSY);
            assertThat(busy.getMessage()).contains("another node of the fleet").contains("target t1");
            // Another key (another target, or the offsite lock of the same one) is not held by it.
            b.hold("t2/.lock", "t2", in(Duration.ofSeconds(5))).close();
            held.close();
            AutoCloseable taken = b.hold("t1/.lock", "t1", in(Duration.ofSeconds(5)));

            // The holder dies (its connection ends as a killed process's does): the lock is free at once.
            try (Connection c = pg.connect(db); Statement st = c.createStatement()) {
                st.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        + " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
            }
            Fixtures.await("the dead holder's lock released", Duration.ofSeconds(30), () -> {
                try {
                    a.hold("t1/.lock", "t1", in(Duration.ZERO)).close();
                    return true;
                } catch (BackstopException e) {
                    return false;
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            taken.close(); // its connection is gone already: closing is harmless
        }
    }

    @Test
    void anUnreachableFleetDatabaseIsNamedAndNoJobRunsWithoutItsLock() {
        Settings.Cluster gone = new Settings.Cluster("jdbc:postgresql://127.0.0.1:" + io.backstop.testing.Receiver
                .unusedPort() + "/x?password=url-secret", "u", Secret.of("pw-secret"), "backstop_fleet", "node-a",
                Duration.ofSeconds(1), Duration.ofSeconds(5), 2);
        try (Fleet f = new Fleet(gone, "test", Clock.systemUTC())) {
            BackstopException e = catchThrowableOfType(BackstopException.class,
                    () -> f.hold("t1/.lock", "t1", in(Duration.ofSeconds(1))));
            assertThat(e.code()).isEqualTo(ExitCode.DATABASE_UNREACHABLE);
            assertThat(e.getMessage()).contains("cannot lock target t1").contains("127.0.0.1")
                    .doesNotContain("url-secret").doesNotContain("pw-secret");
        }
    }

    @Test
    void nodesCheckInAndADriftingClockIsWarnedAbout() throws Exception {
        String db = pg.createDatabase("fleet_nodes");
        ch.qos.logback.classic.Logger log = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(Fleet.class);
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        log.addAppender(logs);
        Clock ahead = Clock.offset(Clock.systemUTC(), Duration.ofSeconds(5));
        List<Fleet.Run> runs = new ArrayList<>();
        try (Fleet a = new Fleet(cluster(db, "node-a"), "test", Clock.systemUTC());
                Fleet b = new Fleet(cluster(db, "node-b"), "test", ahead)) {
            a.start(batch -> {
                synchronized (runs) {
                    runs.addAll(batch);
                }
            });
            b.start(batch -> { });
            Fixtures.await("both nodes seen by node-a", Duration.ofSeconds(30), () -> a.nodes().size() == 2);
            assertThat(a.nodes()).extracting(Fleet.Node::name, Fleet.Node::up)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple("node-a", true),
                            org.assertj.core.groups.Tuple.tuple("node-b", true));
            assertThat(b.driftSeconds()).isBetween(4.0, 6.0);
            assertThat(Math.abs(a.driftSeconds())).isLessThan(1.0);
            assertThat(logs.list).extracting(ILoggingEvent::getFormattedMessage)
                    .anySatisfy(m -> assertThat(m).contains("node-b").contains("ahead of the fleet database's")
                            .contains("NTP"));
            // Exactly one of them speaks for the fleet.
            Fixtures.await("one speaker", Duration.ofSeconds(30), () -> a.speaks() ^ b.speaks());

            // A run node-b records reaches node-a at its next check-in.
            long id = b.started("t1", "backup");
            b.finished(id, "pg_dump: error: connection refused", 2);
            Fixtures.await("node-b's run seen by node-a", Duration.ofSeconds(30), () -> {
                synchronized (runs) {
                    return runs.stream().anyMatch(r -> r.node().equals("node-b") && Boolean.FALSE.equals(r.ok())
                            && r.failures() == 2 && r.target().equals("t1"));
                }
            });

            // node-b leaves cleanly: node-a no longer lists it, and the speaker's part moves if it was node-b's.
            b.close();
            Fixtures.await("node-b gone from node-a's view", Duration.ofSeconds(30), () -> a.nodes().size() == 1);
            Fixtures.await("node-a speaks", Duration.ofSeconds(30), a::speaks);
        } finally {
            log.detachAppender(logs);
        }
        try (Connection c = pg.connect(db); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT max(version) FROM backstop_fleet.backstop_schema")) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(ClusterStore.VERSION);
        }
    }
}
