package io.backstop.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A first look at the fleet (issue 36, not done): two nodes as separate processes share one schedule through
 * Quartz's clustered JDBC job store; both check in, every target is backed up, and the work lands on both.
 */
class FleetSmokeIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    @Test
    void twoNodesShareOneScheduleThroughTheClusteredJobStore() throws Exception {
        String store = pg.createDatabase("fleet_store");
        StringBuilder targets = new StringBuilder();
        List<String> names = new ArrayList<>();
        for (int i = 1; i <= 6; i++) {
            String db = pg.createDatabase("fleet_t" + i);
            pg.execute(db, "CREATE TABLE t(id int)", "INSERT INTO t SELECT generate_series(1, 20)");
            names.add("t" + i);
            targets.append("    { name = t").append(i).append(", database = \"").append(db).append("\" }\n");
        }
        Path conf = dir.resolve("fleet.conf");
        Files.writeString(conf, """
                backstop {
                  schedule = "0/4 * * * * ?"
                  restore-drill.every = 0
                  target-defaults { host = "127.0.0.1", port = %d, password = "%s" }
                  cluster { enabled = true, jdbc-url = "jdbc:postgresql://127.0.0.1:%d/%s", user = "%s", password = "%s",
                            check-in = 2s, misfire-threshold = 5s }
                  targets = [
                %s  ]
                }
                """.formatted(pg.port(), pg.password().replace("\\", "\\\\"), pg.port(), store, PgCluster.SUPERUSER,
                pg.password().replace("\\", "\\\\"), targets));
        List<Process> nodes = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        try {
            for (String node : List.of("node-a", "node-b")) {
                Map<String, String> env = new HashMap<>();
                env.put("BACKSTOP_CONFIG", conf.toString());
                env.put("BACKSTOP_BACKUP_DIR", dir.resolve("backups").toString());
                env.put("BACKSTOP_PG_BIN_DIR", PgCluster.binDir().toString());
                env.put("BACKSTOP_HTTP_PORT", "0");
                env.put("BACKSTOP_HTTP_BIND", "127.0.0.1");
                env.put("BACKSTOP_CLUSTER_NODE", node);
                env.put("BACKSTOP_LOG_LEVEL", "INFO");
                env.put("PATH", System.getenv("PATH"));
                Path log = dir.resolve(node + ".log");
                logs.add(log);
                nodes.add(Cli.spawn(env, log, "daemon"));
            }
            Fixtures.await("both nodes checked in to the job store", Duration.ofSeconds(60), () -> instances(store) == 2);
            Fixtures.await("three backups of every target", Duration.ofSeconds(120), () -> names.stream()
                    .allMatch(n -> Fixtures.finalDumps(dir.resolve("backups").resolve(n).resolve("hourly")).size() >= 3));
            int a = finished(logs.get(0));
            int b = finished(logs.get(1));
            String both = Files.readString(logs.get(0)) + "\n=====\n" + Files.readString(logs.get(1));
            assertThat(a).as("backups node-a took\n" + both).isPositive();
            assertThat(b).as("backups node-b took\n" + both).isPositive();
        } finally {
            for (Process p : nodes) {
                p.destroy();
            }
            for (Process p : nodes) {
                p.waitFor();
            }
        }
    }

    private int instances(String store) {
        try (Connection c = pg.connect(store); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT count(*) FROM backstop_fleet.qrtz_scheduler_state")) {
            rs.next();
            return rs.getInt(1);
        } catch (java.sql.SQLException e) {
            return 0; // not created yet
        }
    }

    private static int finished(Path log) throws Exception {
        return (int) Files.readAllLines(log).stream().filter(l -> l.contains("] Backup - backup t") && l.contains(" finished:"))
                .count();
    }
}
