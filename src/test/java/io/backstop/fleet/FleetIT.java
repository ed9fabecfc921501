package io.backstop.fleet;

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
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fleet of three nodes, each a separate process, sharing one job store (a PostgreSQL cluster of its own, so it
 * can be restarted) and one backup directory, with 30 targets on a 30 s schedule (a cycle's 30 dumps and their
 * checks took up to 22 s on two loaded cores: a 20 s cycle let the last of them start in the next one).
 * Everything is judged from outside: the manifests on disk (who took what, when) and the server's own view of
 * its pg_dump connections.
 */
class FleetIT {
    private static final int TARGETS = 30;
    private static final Duration CYCLE = Duration.ofSeconds(30);
    private static final Duration CHECK_IN = Duration.ofSeconds(5);
    private static final Duration MISFIRE = Duration.ofSeconds(20);
    private static final List<String> NODES = List.of("node-a", "node-b", "node-c");
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Each node's log, kept after the run for a failure's reader. */
    private static final Path LOGS = Path.of("target", "fleet-it");

    private final PgCluster pg = PgCluster.shared();
    private final Map<String, Process> nodes = new LinkedHashMap<>();
    private final Map<String, Integer> ports = new HashMap<>();
    private final Map<String, Integer> lives = new HashMap<>();
    private final List<String> databases = new ArrayList<>();

    @TempDir
    Path dir;

    private Path conf;
    private Path backups;

    /** A backup as its manifest tells it. */
    private record Taken(String target, Instant started, Instant finished, String node) {
    }

    @Test
    void threeNodesShareTheScheduleSurviveANodesDeathAndTheJobStoresRestart() throws Exception {
        backups = dir.resolve("backups");
        Files.createDirectories(LOGS);
        StringBuilder targets = new StringBuilder();
        for (int i = 1; i <= TARGETS; i++) {
            String db = pg.createDatabase("fleet_t" + i);
            pg.execute(db, "CREATE TABLE t(id int PRIMARY KEY)", "INSERT INTO t SELECT generate_series(1, 50)");
            databases.add(db);
            targets.append("    { name = t").append(i).append(", database = \"").append(db).append("\" }\n");
        }
        try (PgCluster store = PgCluster.start(); DumpWatch watch = new DumpWatch(pg, databases)) {
            String storeDb = store.createDatabase("fleet_store");
            conf = dir.resolve("fleet.conf");
            Files.writeString(conf, """
                    backstop {
                      schedule = "0/30 * * * * ?"
                      restore-drill.every = 0
                      target-defaults { host = "127.0.0.1", port = %d, password = "%s" }
                      cluster { enabled = true, jdbc-url = "jdbc:postgresql://127.0.0.1:%d/%s", user = "%s",
                                password = "%s", check-in = %ds, misfire-threshold = %ds }
                      targets = [
                    %s  ]
                    }
                    """.formatted(pg.port(), esc(pg.password()), store.port(), storeDb, PgCluster.SUPERUSER,
                    esc(store.password()), CHECK_IN.toSeconds(), MISFIRE.toSeconds(), targets));
            try {
                for (String node : NODES) {
                    start(node);
                }
                Fixtures.await("three nodes checked in", Duration.ofSeconds(90), slowly(() -> members(store, storeDb) == 3));

                // Two whole cycles with every node up: every target once per cycle, spread over the nodes.
                // After every target's start-up backup: a slot that found its target still taking that one is
                // taken once when it ends (the misfire policy), which may fall into the next cycle.
                Fixtures.await("every target's start-up backup", Duration.ofMinutes(3),
                        slowly(() -> taken().stream().map(Taken::target).distinct().count() == TARGETS));
                Instant first = nextSlot(Instant.now().plusSeconds(1));
                Instant end = first.plus(CYCLE.multipliedBy(2));
                Fixtures.await("every target backed up in the two cycles after " + first, Duration.ofMinutes(3),
                        slowly(() -> everyTargetSince(end)));
                List<Taken> measured = taken().stream().filter(t -> !t.started().isBefore(first)
                        && t.started().isBefore(end)).toList();
                for (Instant slot = first; slot.isBefore(end); slot = slot.plus(CYCLE)) {
                    Instant from = slot;
                    Set<String> backedUp = measured.stream().filter(t -> !t.started().isBefore(from)
                            && t.started().isBefore(from.plus(CYCLE))).map(Taken::target).collect(Collectors.toSet());
                    assertThat(backedUp).as("targets backed up in the cycle of " + slot + logs()).hasSize(TARGETS);
                }
                Map<String, Long> perNode = new TreeMap<>(measured.stream()
                        .collect(Collectors.groupingBy(Taken::node, Collectors.counting())));
                assertThat(perNode.keySet()).as("nodes that took backups: " + perNode).containsExactlyElementsOf(NODES);
                Map<String, Map<String, Long>> perCycle = new TreeMap<>(measured.stream().collect(Collectors.groupingBy(
                        t -> first.plus(CYCLE.multipliedBy(Duration.between(first, t.started()).toMillis()
                                / CYCLE.toMillis())).toString(), Collectors.groupingBy(Taken::node, TreeMap::new,
                                        Collectors.counting()))));
                assertThat(perNode.values()).as("backups per node " + perNode + " (none above half); per cycle "
                        + perCycle + "; the nodes' logs are in " + LOGS.toAbsolutePath())
                        .allSatisfy(n -> assertThat(n).isLessThanOrEqualTo(measured.size() / 2));

                // Every node reports the whole fleet: each target with the node that took it, every node up.
                Fixtures.await("node-c reports every target with its node", Duration.ofSeconds(60), slowly(() -> {
                    JsonNode health = get("node-c", "/health");
                    return health.path("targets").size() == TARGETS && java.util.stream.StreamSupport.stream(
                            iterable(health.path("targets")).spliterator(), false).allMatch(t -> NODES.contains(t.path("node").asText())
                                    && !t.path("newest_verified_backup").isNull());
                }));
                String scrape = get("node-a", "/metrics").asText();
                assertThat(scrape).as("the fleet's series the alerts and the dashboard use")
                        .contains("backstop_fleet_node_up{node=\"node-b\"} 1.0",
                                "backstop_fleet_node_last_seen_timestamp_seconds{node=\"node-c\"}",
                                "backstop_fleet_clock_drift_seconds ", "backstop_fleet_speaker ");
                String page = page("node-b");
                assertThat(page).as("node-b's status page").contains("<section id=\"fleet\">", "Taken by",
                        "served by node <b>node-b</b>").contains(NODES);
                JsonNode fleet = get("node-a", "/health").get("fleet");
                assertThat(fleet.get("node").asText()).isEqualTo("node-a");
                assertThat(iterable(fleet.get("nodes"))).extracting(n -> n.get("name").asText() + "="
                        + n.get("up").asBoolean()).containsExactly("node-a=true", "node-b=true", "node-c=true");

                // A node dies mid-dump: another takes the backup over, and sweeps the dead node's temporary file.
                Path t1 = backups.resolve("t1");
                Path leftover;
                String victim;
                Instant killed;
                try (Connection blocker = pg.connect(databases.get(0)); Statement st = blocker.createStatement()) {
                    blocker.setAutoCommit(false);
                    st.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
                    Fixtures.await("a backup of t1 waiting for the table's lock", CYCLE.multipliedBy(3), slowly(() ->
                            !Fixtures.temporaries(t1).isEmpty() && waitingOnLock(databases.get(0))));
                    leftover = Fixtures.temporaries(t1).get(0);
                    victim = ownerOf(leftover);
                    nodes.get(victim).destroyForcibly().waitFor();
                    killed = Instant.now();
                    blocker.rollback();
                }
                Fixtures.await("t1 backed up by another node after " + victim + " died", Duration.ofMinutes(2),
                        slowly(() -> taken().stream().anyMatch(t -> t.target().equals("t1")
                                && t.started().isAfter(killed))));
                Taken takenOver = taken().stream().filter(t -> t.target().equals("t1") && t.started().isAfter(killed))
                        .findFirst().orElseThrow();
                assertThat(takenOver.node()).isNotEqualTo(victim);
                assertThat(Duration.between(killed, takenOver.finished()))
                        .as("from the kill to the taken-over backup's end" + logs())
                        .isLessThanOrEqualTo(CHECK_IN.plus(MISFIRE));
                Fixtures.await("the dead node's temporary file swept", Duration.ofSeconds(60),
                        () -> !Files.exists(leftover));
                Fixtures.await("the others report " + victim + " down", Duration.ofSeconds(60), slowly(() ->
                        metric(NODES.stream().filter(n -> !n.equals(victim)).findFirst().orElseThrow(),
                                "backstop_fleet_node_up{node=\"" + victim + "\"}") == 0.0));

                // It restarts and rejoins: it checks in and takes backups again.
                Instant restarted = Instant.now();
                start(victim);
                Fixtures.await(victim + " back in the fleet", Duration.ofSeconds(90), slowly(() -> members(store, storeDb) == 3));
                Fixtures.await(victim + " taking backups again", Duration.ofMinutes(2), slowly(() -> taken().stream()
                        .anyMatch(t -> t.node().equals(victim) && t.started().isAfter(restarted))));

                // The job store's database restarts: the fleet resumes by itself.
                store.stopServer();
                Instant down = Instant.now();
                Instant slotMissed = nextSlot(down);
                Fixtures.await("a slot passing while the job store is down", CYCLE.multipliedBy(2),
                        () -> Instant.now().isAfter(slotMissed.plusSeconds(2)));
                store.startServer();
                Instant up = Instant.now();
                Fixtures.await("every target backed up after the job store came back", Duration.ofMinutes(3),
                        slowly(() -> everyTargetSince(up)));
                assertThat(nodes.values()).allMatch(Process::isAlive);

                // Never two backups of one target at once: not in the manifests, not in the server's own view.
                Map<String, List<Taken>> byTarget = taken().stream().collect(Collectors.groupingBy(Taken::target));
                byTarget.forEach((target, all) -> {
                    List<Taken> sorted = all.stream().sorted(java.util.Comparator.comparing(Taken::started)).toList();
                    for (int i = 1; i < sorted.size(); i++) {
                        assertThat(sorted.get(i).started()).as("backups of " + target + " overlapping: "
                                + sorted.get(i - 1) + " and " + sorted.get(i)).isAfter(sorted.get(i - 1).finished());
                    }
                });
                assertThat(watch.overlaps()).as("databases with two pg_dump connections at once").isEmpty();
                assertThat(watch.seen()).as("databases whose pg_dump the watch saw").isGreaterThan(TARGETS / 2);

                // list says which node took each backup (a process of its own: a fleet run joins the fleet).
                Path listed = dir.resolve("list.txt");
                Process list = Cli.spawn(env("node-a"), listed, "list", "--target", "t1");
                assertThat(list.waitFor()).as(Files.readString(listed)).isZero();
                assertThat(Files.readString(listed)).contains("NODE").containsPattern("node-[abc]");
            } finally {
                for (Process p : nodes.values()) {
                    p.destroy();
                }
                for (Process p : nodes.values()) {
                    p.waitFor();
                }
            }
        }
    }

    private void start(String node) throws Exception {
        ports.computeIfAbsent(node, n -> Receiver.unusedPort());
        int life = lives.merge(node, 1, Integer::sum);
        if (life > 1) { // a restart: the node's earlier life stays readable beside it
            Files.move(LOGS.resolve(node + ".log"), LOGS.resolve(node + ".life" + (life - 1) + ".log"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        nodes.put(node, Cli.spawn(env(node), LOGS.resolve(node + ".log"), "daemon"));
    }

    private Map<String, String> env(String node) {
        Map<String, String> env = new HashMap<>();
        env.put("BACKSTOP_CONFIG", conf.toString());
        env.put("BACKSTOP_BACKUP_DIR", backups.toString());
        env.put("BACKSTOP_PG_BIN_DIR", PgCluster.binDir().toString());
        env.put("BACKSTOP_HTTP_PORT", Integer.toString(ports.getOrDefault(node, 0)));
        env.put("BACKSTOP_HTTP_BIND", "127.0.0.1");
        env.put("BACKSTOP_CLUSTER_NODE", node);
        env.put("PATH", System.getenv("PATH"));
        return env;
    }

    /** {@code condition} asked at most twice a second: walking 30 targets' files is not free on a loaded machine. */
    private static java.util.function.BooleanSupplier slowly(java.util.function.BooleanSupplier condition) {
        long[] last = {0};
        return () -> {
            long now = System.nanoTime();
            if (last[0] != 0 && now - last[0] < 500_000_000L) {
                return false;
            }
            last[0] = now;
            return condition.getAsBoolean();
        };
    }

    private static String esc(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    private static Instant nextSlot(Instant after) {
        long s = CYCLE.toSeconds();
        return Instant.ofEpochSecond((after.getEpochSecond() / s + 1) * s);
    }

    private boolean everyTargetSince(Instant since) {
        return taken().stream().filter(t -> t.started().isAfter(since)).map(Taken::target).distinct().count() == TARGETS;
    }

    /** Every verified backup of every target, from the manifests in the shared directory (each once). */
    private List<Taken> taken() {
        Map<String, Taken> all = new ConcurrentHashMap<>();
        List<Path> files;
        try (Stream<Path> walk = Files.walk(backups)) {
            files = walk.toList();
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return List.of(); // a file rotated away while walking: asked again
        }
        for (Path f : files) {
            String name = f.getFileName().toString();
            if (!name.matches("[^.].*\\.dump(\\.zst)?(\\.age)?\\.json")) {
                continue;
            }
            try {
                JsonNode m = JSON.readTree(f.toFile());
                if (!"passed".equals(m.path("verification").path("result").asText())) {
                    continue;
                }
                Taken t = new Taken(m.get("target").asText(), Instant.parse(m.get("started_at").asText()),
                        Instant.parse(m.get("finished_at").asText()), m.path("node").asText());
                all.put(t.target() + "@" + t.started(), t);
            } catch (java.io.IOException | RuntimeException e) {
                // being written or rotated away this moment
            }
        }
        return List.copyOf(all.values());
    }

    /** The nodes in Quartz's own membership table. */
    private static int members(PgCluster store, String db) {
        try (Connection c = store.connect(db); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT count(*) FROM backstop_fleet.qrtz_scheduler_state")) {
            rs.next();
            return rs.getInt(1);
        } catch (java.sql.SQLException e) {
            return 0; // not created yet
        }
    }

    private boolean waitingOnLock(String db) {
        try (Connection c = pg.connect("postgres"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + db
                        + "' AND application_name LIKE 'backstop%' AND wait_event_type = 'Lock'")) {
            rs.next();
            return rs.getInt(1) > 0;
        } catch (java.sql.SQLException e) {
            return false;
        }
    }

    /** The node whose process wrote {@code temporary}: its name ends in "-pid.start.node-xxxxxxxx". */
    private String ownerOf(Path temporary) {
        String[] parts = temporary.getFileName().toString().split("-");
        long pid = Long.parseLong(parts[parts.length - 2].split("\\.")[0]);
        return nodes.entrySet().stream().filter(e -> e.getValue().pid() == pid).map(Map.Entry::getKey).findFirst()
                .orElseThrow(() -> new AssertionError("no node has pid " + pid + " (" + temporary + ")"));
    }

    /** A node's /health (its /metrics as one text node); empty while it does not answer. */
    private JsonNode get(String node, String path) {
        Optional<String> body = Fixtures.httpGet(ports.get(node), path);
        try {
            return body.isEmpty() ? JSON.createObjectNode() : path.equals("/metrics")
                    ? JSON.getNodeFactory().textNode(body.get()) : JSON.readTree(body.get());
        } catch (java.io.IOException e) {
            return JSON.createObjectNode(); // a reply cut short by a node stopping
        }
    }

    private String page(String node) {
        return Fixtures.httpGet(ports.get(node), "/").orElse("");
    }

    private double metric(String node, String series) {
        for (String line : get(node, "/metrics").asText().split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).trim());
            }
        }
        return Double.NaN;
    }

    private static Iterable<JsonNode> iterable(JsonNode array) {
        return array::elements;
    }

    private String logs() {
        StringBuilder b = new StringBuilder();
        for (String node : NODES) {
            try {
                List<String> lines = Files.readAllLines(LOGS.resolve(node + ".log"));
                b.append("\n===== ").append(node).append(" (last 40 lines)\n")
                        .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size())));
            } catch (java.io.IOException e) {
                b.append("\n===== ").append(node).append(": no log");
            }
        }
        return b.toString();
    }

    /**
     * The server's own view, sampled as fast as it answers: which databases ever had two pg_dump connections at
     * once, and how many databases' pg_dump it saw at all (a watch that never sees one proves nothing).
     */
    private static final class DumpWatch implements AutoCloseable {
        private final Set<String> overlaps = ConcurrentHashMap.newKeySet();
        private final Set<String> seen = ConcurrentHashMap.newKeySet();
        private final java.util.concurrent.ScheduledExecutorService sampler =
                java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
        private final PgCluster pg;
        private final List<String> databases;
        private Connection connection;

        /** A sample every 20 ms: even a small database's dump lasts longer. */
        DumpWatch(PgCluster pg, List<String> databases) {
            this.pg = pg;
            this.databases = databases;
            sampler.scheduleWithFixedDelay(this::sample, 0, 20, java.util.concurrent.TimeUnit.MILLISECONDS);
        }

        private void sample() {
            try {
                if (connection == null) {
                    connection = pg.connect("postgres");
                }
                try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery("SELECT datname,"
                        + " count(*) FROM pg_stat_activity WHERE application_name = 'backstop pg_dump' GROUP BY datname")) {
                    while (rs.next()) {
                        if (databases.contains(rs.getString(1))) {
                            seen.add(rs.getString(1));
                            if (rs.getInt(2) > 1) {
                                overlaps.add(rs.getString(1));
                            }
                        }
                    }
                }
            } catch (java.sql.SQLException e) {
                connection = null; // connects again at the next sample
            }
        }

        Set<String> overlaps() {
            return overlaps;
        }

        int seen() {
            return seen.size();
        }

        @Override
        public void close() throws Exception {
            sampler.shutdownNow();
            sampler.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
            if (connection != null) {
                connection.close();
            }
        }
    }
}
