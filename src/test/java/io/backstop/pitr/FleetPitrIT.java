package io.backstop.pitr;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import io.backstop.testing.Receiver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PITR in a fleet of two nodes (separate processes): one node at a time streams a target's WAL over its one
 * slot and takes its base backups; when that node is SIGKILLed the other takes the stream over from the slot,
 * and the archive stays continuous (pg_waldump reads it whole) while pgbench writes.
 */
class FleetPitrIT {
    private static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    private final Map<String, Integer> ports = new HashMap<>();

    @Test
    void oneNodeStreamsATargetsWalAndAnotherTakesItOverWithoutAGap() throws Exception {
        PgCluster jobs = PgCluster.shared();
        String store = jobs.createDatabase("fleet_wal_store");
        try (PgCluster pg = PgCluster.startReplicating(Map.of())) {
            String db = pg.createDatabase("fleetwal");
            Pgbench.initialise(pg, db, 1);
            Path conf = dir.resolve("fleet.conf");
            Files.writeString(conf, """
                    backstop {
                      schedule = "0 0 0 1 1 ?"
                      restore-drill.every = 0
                      pitr.enabled = true
                      targets = [ { name = app, host = "127.0.0.1", port = %d, database = "%s", password = "%s" } ]
                      cluster { enabled = true, jdbc-url = "jdbc:postgresql://127.0.0.1:%d/%s", user = "%s",
                                password = "%s", check-in = 2s, misfire-threshold = 10s }
                    }
                    """.formatted(pg.port(), db, esc(pg.password()), jobs.port(), store, PgCluster.SUPERUSER,
                    esc(jobs.password())));
            Map<String, Process> nodes = new LinkedHashMap<>();
            try (Pgbench load = Pgbench.start(pg, db, 600, dir.resolve("pgbench.log"))) {
                for (String node : List.of("node-a", "node-b")) {
                    nodes.put(node, Cli.spawn(env(conf, node), dir.resolve(node + ".log"), "daemon"));
                }
                Fixtures.await("one node streaming, after a base backup", WAIT, () -> bases().size() >= 1
                        && Fixtures.processesWith("pg_receivewal").size() == 1 && walSenders(pg) == 1);
                String streaming = streamer(nodes).orElseThrow();
                long first = switchAndAwait(pg, db);
                assertThat(Fixtures.processesWith("pg_receivewal")).as("only one node streams").hasSize(1);

                // The streaming node dies: its pg_receivewal goes with it, the other claims the target and resumes.
                nodes.get(streaming).destroyForcibly().waitFor();
                String other = nodes.keySet().stream().filter(n -> !n.equals(streaming)).findFirst().orElseThrow();
                Fixtures.await(other + " streaming", WAIT, () -> streamer(nodes).filter(other::equals).isPresent()
                        && walSenders(pg) == 1);
                java.time.Instant switched = java.time.Instant.now();
                long end = switchAndAwait(pg, db);
                assertThat(end).isGreaterThan(first);
                assertThat(walDump(pg, end)).as("pg_waldump over the archive, across the takeover").isEmpty();
                // What the node that took over reports, once it has watched the archive since that segment: the
                // window from the same base backup, no gap (what the other node recorded, it reads as recorded).
                java.time.Instant from = bases().get(0).finishedAt();
                Fixtures.await(other + " reporting the window from the first base backup, no gap", WAIT, () -> {
                    JsonNode app = health(other).path("targets").path(0);
                    JsonNode pitr = app.path("pitr");
                    return pitr.path("last_received_at").isTextual()
                            && !java.time.Instant.parse(pitr.path("last_received_at").asText()).isBefore(switched)
                            && pitr.path("window").path("from").isTextual()
                            && java.time.Instant.parse(pitr.path("window").path("from").asText()).equals(from)
                            && !app.path("reasons").toString().contains("WAL_GAP");
                });
                assertThat(bases()).as("the window goes on from the same base backup").hasSize(1);
            } finally {
                for (Process p : nodes.values()) {
                    p.destroy();
                }
                for (Process p : nodes.values()) {
                    p.waitFor();
                }
            }
            assertThat(Fixtures.processesWith("pg_receivewal")).as("no pg_receivewal outlives its node").isEmpty();
        }
    }

    private Map<String, String> env(Path conf, String node) {
        Map<String, String> env = new HashMap<>();
        env.put("BACKSTOP_CONFIG", conf.toString());
        env.put("BACKSTOP_BACKUP_DIR", dir.resolve("backups").toString());
        env.put("BACKSTOP_PG_BIN_DIR", PgCluster.binDir().toString());
        env.put("BACKSTOP_HTTP_PORT", Integer.toString(ports.computeIfAbsent(node, n -> Receiver.unusedPort())));
        env.put("BACKSTOP_HTTP_BIND", "127.0.0.1");
        env.put("BACKSTOP_CLUSTER_NODE", node);
        env.put("PATH", System.getenv("PATH"));
        return env;
    }

    private static String esc(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    private Path targetDir() {
        return dir.resolve("backups").resolve("app");
    }

    private List<BaseBackups.Base> bases() {
        return Archives.bases(targetDir());
    }

    /** The node whose process is the parent of the one pg_receivewal running (empty: none, or several). */
    private static Optional<String> streamer(Map<String, Process> nodes) {
        List<Long> receivers = Fixtures.processesWith("pg_receivewal");
        if (receivers.size() != 1) {
            return Optional.empty();
        }
        Optional<Long> parent = ProcessHandle.of(receivers.get(0)).flatMap(ProcessHandle::parent).map(ProcessHandle::pid);
        return nodes.entrySet().stream().filter(e -> e.getValue().isAlive() && parent.isPresent()
                && e.getValue().pid() == parent.get()).map(Map.Entry::getKey).findFirst();
    }

    /** The node's /health (empty while it does not answer). */
    private JsonNode health(String node) {
        ObjectMapper json = new ObjectMapper();
        try {
            return json.readTree(Fixtures.httpGet(ports.get(node), "/health").orElse("{}"));
        } catch (java.io.IOException e) {
            return json.createObjectNode(); // a reply cut short by a node stopping
        }
    }

    /** The server's own view: its WAL senders streaming to a receiver. */
    private static int walSenders(PgCluster pg) {
        try (Connection c = pg.connect("postgres"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_stat_replication")) {
            rs.next();
            return rs.getInt(1);
        } catch (java.sql.SQLException e) {
            return -1;
        }
    }

    /** Forces the current segment out and waits until the archive has recorded it; returns the switch LSN. */
    private long switchAndAwait(PgCluster pg, String db) throws Exception {
        return Archives.switchAndAwait(pg, db, targetDir(), WAIT);
    }

    /** pg_waldump reads every record of the archive from the oldest base backup's start to {@code end}. */
    private String walDump(PgCluster pg, long end) throws Exception {
        return Archives.walDump(pg, targetDir(), end);
    }
}
