package io.backstop.recover;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.http.LiveDaemon;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The undo to the moment before the incident, as incidents happen: the daemon streams WAL, the test
 * writes rows (some after the last dump, so only the WAL has them) while a writer keeps inserting, the
 * incident strikes (DELETE without WHERE, TRUNCATE ... CASCADE, DROP TABLE, a schema reset with the
 * application writing again under the same ids), `check` raises the alarm and prints the undo, and that
 * very command with --apply --yes must leave every table holding exactly what the test's own log says:
 * every row committed before the incident, every row written after it, nothing else.
 */
class BeforeIncidentIT {
    private static final Duration WAIT = Duration.ofSeconds(180);
    private static final Pattern COMMAND = Pattern.compile("(backstop recover [^\\n]*--before-incident[^\\n]*)");

    @TempDir
    Path dir;

    private PgCluster pg;
    private String db;
    private Map<String, String> env;
    /** The test's own log: each table's rows as committed, note -> customer (0 for a customer row itself). */
    private final Map<String, ConcurrentSkipListMap<String, Long>> committed = new TreeMap<>();

    @AfterEach
    void stopServer() {
        if (pg != null) {
            pg.close();
        }
    }

    private void start() {
        pg = PgCluster.startReplicating(Map.of());
        db = pg.createDatabase("incident");
        schema(db);
        committed.put("customers", new ConcurrentSkipListMap<>());
        committed.put("orders", new ConcurrentSkipListMap<>());
        env = LiveDaemon.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_RESTORE_DRILL_EVERY", "0");
        env.put("BACKSTOP_PITR", "true");
        env.put("BACKSTOP_CHECK_INTERVAL", "2s");
    }

    private void schema(String database) {
        pg.execute(database, "CREATE TABLE customers (id bigserial PRIMARY KEY, note text UNIQUE NOT NULL)",
                "CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers"
                        + " ON DELETE CASCADE, note text UNIQUE NOT NULL)");
    }

    /** A customer and {@code orders} orders of it, each in its own transaction, logged once committed. */
    private void write(Connection c, String tag, int customers, int orders) throws SQLException {
        for (int i = 0; i < customers; i++) {
            String note = tag + "-customer-" + i;
            long id;
            try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(
                    "INSERT INTO customers (note) VALUES ('" + note + "') RETURNING id")) {
                rs.next();
                id = rs.getLong(1);
            }
            committed.get("customers").put(note, 0L);
            for (int o = 0; o < orders; o++) {
                String on = tag + "-order-" + i + "-" + o;
                try (Statement st = c.createStatement()) {
                    st.executeUpdate("INSERT INTO orders (customer_id, note) VALUES (" + id + ", '" + on + "')");
                }
                committed.get("orders").put(on, (long) i);
            }
        }
    }

    /** Every row as the test logged it: customers by note; orders by note with their customer's note. */
    private TreeMap<String, String> expected() {
        TreeMap<String, String> rows = new TreeMap<>();
        committed.get("customers").keySet().forEach(n -> rows.put("customers " + n, ""));
        committed.get("orders").forEach((n, customer) -> rows.put("orders " + n, n.replaceAll("-order-(\\d+)-\\d+$",
                "-customer-$1")));
        return rows;
    }

    /** Every row as the database holds it, in the same form: an order names its customer's note. */
    private TreeMap<String, String> actual() throws SQLException {
        TreeMap<String, String> rows = new TreeMap<>();
        try (Connection c = pg.connect(db); Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT note FROM customers")) {
                while (rs.next()) {
                    rows.put("customers " + rs.getString(1), "");
                }
            }
            try (ResultSet rs = st.executeQuery("SELECT o.note, c.note FROM orders o JOIN customers c ON c.id ="
                    + " o.customer_id")) {
                while (rs.next()) {
                    rows.put("orders " + rs.getString(1), rs.getString(2));
                }
            }
        }
        return rows;
    }

    private boolean flushed() {
        try (Connection c = pg.connect(db); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT coalesce(bool_and(flush_lsn >= pg_current_wal_lsn()), false)"
                        + " FROM pg_stat_replication")) {
            rs.next();
            return rs.getBoolean(1);
        } catch (SQLException e) {
            return false;
        }
    }

    /**
     * The application writing: a customer with an order at a time, logged once committed; five before the
     * incident, then ten more from the moment it strikes (as many as would not hide the drop from a count),
     * until done or refused (its table gone).
     */
    private final class Writer {
        private final CountDownLatch started = new CountDownLatch(1);
        private final CountDownLatch go = new CountDownLatch(1);
        private final Thread thread = new Thread(this::run, "test-writer");

        private void run() {
            try (Connection c = pg.connect(db)) {
                for (int n = 0; n < 15; n++) {
                    if (n == 5) {
                        started.countDown();
                        go.await();
                    }
                    write(c, "writer" + n, 1, 1);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (SQLException refused) {
                // the table it writes to is gone: the application fails here too
            } finally {
                started.countDown();
            }
        }

        /** The incident strikes now: the writer goes on beside it. */
        void strike() {
            go.countDown();
        }

        /** Waits until the writer wrote all it would. */
        void finish() throws InterruptedException {
            go.countDown();
            thread.join(WAIT.toMillis());
            assertThat(thread.isAlive()).as("the writer finished").isFalse();
        }
    }

    /** Before the incident: rows in the last dump, rows only the WAL has, a writer running throughout. */
    private Writer before(LiveDaemon d) throws Exception {
        Fixtures.await("a recoverable window", WAIT, () -> Pattern.compile(
                "(?m)^backstop_pitr_window_start_timestamp_seconds\\{target=\"app\"} [1-9]")
                .matcher(d.get("/metrics").body()).find());
        try (Connection c = pg.connect(db)) {
            write(c, "dumped", 30, 3);
            Cli.Result backup = Cli.run(env, "backup");
            assertThat(backup.status()).as(backup.all()).isZero();
            write(c, "walonly", 20, 3);
        }
        Writer writer = new Writer();
        writer.thread.start();
        assertThat(writer.started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the writer writing").isTrue();
        return writer;
    }

    /** After the incident: check raises the alarm and names the undo; the undo, as printed, with --apply --yes. */
    private Cli.Result undo(String... extraExpected) {
        return apply(raise(extraExpected));
    }

    /** check raises the alarm and prints the undo from just before the incident: its arguments. */
    private List<String> raise(String... extraExpected) {
        Fixtures.await("the incident's WAL received", WAIT, this::flushed);
        Cli.Result check = Cli.run(env, "check");
        assertThat(check.status()).as(check.all()).isEqualTo(1);
        Matcher m = COMMAND.matcher(check.out());
        assertThat(m.find()).as("check names the undo from just before the incident: " + check.all()).isTrue();
        List<String> args = new ArrayList<>(Arrays.asList(m.group(1).trim().split("\\s+")));
        args.remove(0); // backstop
        for (String e : extraExpected) {
            assertThat(args).contains(e);
        }
        return args;
    }

    private Cli.Result apply(List<String> undo) {
        List<String> args = new ArrayList<>(undo);
        args.addAll(List.of("--apply", "--yes"));
        Cli.Result recover = Cli.run(env, args.toArray(String[]::new));
        assertThat(recover.status()).as(recover.all()).isZero();
        assertThat(recover.out()).contains("incident: ", ", xid ", "comparing with the database just before the"
                + " incident's commit");
        return recover;
    }

    @Test
    void deleteWithoutWhere() throws Exception {
        start();
        try (LiveDaemon d = new LiveDaemon(env)) {
            Writer writer = before(d);
            writer.strike();
            pg.execute(db, "DELETE FROM orders");
            try (Connection c = pg.connect(db)) {
                write(c, "after", 5, 2);
            }
            writer.finish();
            List<String> command = raise("public.orders");
            // The daemon's next check sees the alarm and finds the incident by itself: /health and list name it.
            Fixtures.await("/health names the incident", WAIT, () -> d.get("/health").body()
                    .matches("(?s).*\"incident\":\\{\"xid\":\\d+,.*\"what\":\"DELETE\".*"));
            assertThat(d.get("/health").body()).contains("\"table\":\"public.orders\"", "--before-incident");
            Cli.Result list = Cli.run(env, "list", "--json");
            assertThat(list.status()).as(list.all()).isZero();
            assertThat(list.out()).containsPattern("(?s)\"kind\" ?: ?\"pitr-window\".*\"incident\" ?: ?\\{\\s*\"xid\" ?:");
            assertThat(Cli.run(env, "list").out()).containsPattern("the data-loss alarm's incident: DELETE on"
                    + " public.orders, [\\d,]+ rows, xid \\d+");
            Cli.Result recover = apply(command);
            assertThat(recover.out()).containsPattern("incident: DELETE on public.orders, [\\d,]+ rows");
            assertThat(actual()).isEqualTo(expected());
        }
    }

    @Test
    void truncateCascade() throws Exception {
        start();
        try (LiveDaemon d = new LiveDaemon(env)) {
            Writer writer = before(d);
            writer.strike();
            pg.execute(db, "TRUNCATE customers CASCADE");
            try (Connection c = pg.connect(db)) {
                write(c, "after", 5, 2);
            }
            writer.finish();
            Cli.Result recover = undo("public.customers", "public.orders");
            assertThat(recover.out()).contains("dropped or truncated (its file removed)");
            assertThat(actual()).isEqualTo(expected());
        }
    }

    @Test
    void dropTable() throws Exception {
        start();
        try (LiveDaemon d = new LiveDaemon(env)) {
            Writer writer = before(d);
            writer.strike();
            pg.execute(db, "DROP TABLE orders");
            writer.finish();
            try (Connection c = pg.connect(db); Statement st = c.createStatement()) {
                st.executeUpdate("INSERT INTO customers (note) VALUES ('after-customer-0')");
                committed.get("customers").put("after-customer-0", 0L);
            }
            undo("public.orders");
            assertThat(actual()).isEqualTo(expected());
        }
    }

    @Test
    void schemaResetWithTheApplicationWritingUnderTheSameIds() throws Exception {
        start();
        try (LiveDaemon d = new LiveDaemon(env)) {
            before(d).finish(); // the reset drops the tables it writes to: it is done first
            pg.execute(db, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public");
            schema(db);
            try (Connection c = pg.connect(db)) {
                write(c, "after", 4, 2); // ids 1.. again: they collide with the old rows' ids
            }
            undo("--rekey-new");
            assertThat(actual()).isEqualTo(expected());
        }
    }
}
