package io.backstop.recover;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * backstop recover against a real server, one incident class each. Every test compares the
 * final state table by table (count and an order-independent checksum) with the state expected.
 */
class RecoverIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    private String db;
    private Map<String, String> env;

    @BeforeEach
    void app() {
        db = pg.createDatabase("recover");
        pg.execute(db,
                "CREATE TABLE users(id bigserial PRIMARY KEY, email text, created timestamptz DEFAULT '2026-01-01')",
                "INSERT INTO users(email) SELECT 'u' || g || '@x.org' FROM generate_series(1, 1000) g",
                "CREATE TABLE customers(id int PRIMARY KEY, name text)",
                "CREATE TABLE orders(id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, total numeric)",
                "CREATE TABLE items(order_id int REFERENCES orders, line int, sku text, PRIMARY KEY (order_id, line))",
                "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 50) g",
                "INSERT INTO orders SELECT g, g % 50 + 1, g * 1.5 FROM generate_series(1, 200) g",
                "INSERT INTO items SELECT o, l, 'sku' || o || '-' || l FROM generate_series(1, 200) o, generate_series(1, 3) l",
                "CREATE TABLE events(at int, what text)", // no primary key
                "INSERT INTO events SELECT g % 7, 'e' || (g % 5) FROM generate_series(1, 300) g",
                "CREATE TABLE accounts(id int PRIMARY KEY, owner text UNIQUE, balance numeric CHECK (balance >= 0))",
                "CREATE INDEX accounts_balance ON accounts(balance)",
                "COMMENT ON TABLE accounts IS 'money'",
                "INSERT INTO accounts SELECT g, 'o' || g, g FROM generate_series(1, 100) g",
                "CREATE TABLE payments(id int PRIMARY KEY, account_id int REFERENCES accounts(id), amount numeric)",
                "INSERT INTO payments SELECT g, g % 100 + 1, g FROM generate_series(1, 300) g",
                "CREATE SCHEMA billing",
                "CREATE TABLE billing.invoices(id serial PRIMARY KEY, amount numeric)",
                "INSERT INTO billing.invoices(amount) SELECT g FROM generate_series(1, 120) g",
                "CREATE TABLE billing.lines(invoice_id int REFERENCES billing.invoices, n int)",
                "INSERT INTO billing.lines SELECT g, 1 FROM generate_series(1, 120) g");
        env = Cli.env(pg, db, dir.resolve("backups"));
        assertThat(Cli.run(env, "backup").status()).isZero();
    }

    /** table → "count:checksum", order-independent. */
    private Map<String, String> state(String... tables) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Connection c = pg.connect(db); Statement st = c.createStatement()) {
            for (String t : tables) {
                try (ResultSet rs = st.executeQuery("SELECT count(*) || ':' || coalesce(md5(string_agg(md5(x::text), ''"
                        + " ORDER BY md5(x::text))), '') FROM ONLY " + t + " x")) {
                    rs.next();
                    out.put(t, rs.getString(1));
                }
            }
        }
        return out;
    }

    private Cli.Result recover(String... args) {
        String[] all = new String[args.length + 1];
        all[0] = "recover";
        System.arraycopy(args, 0, all, 1, args.length);
        return Cli.run(env, all);
    }

    @Test
    void deleteWithoutWhereOnATableThatReceivedNewRows() throws Exception {
        Map<String, String> others = state("customers", "orders", "items", "events");
        Map<String, String> before = state("users");
        pg.execute(db, "DELETE FROM users");
        pg.execute(db, "INSERT INTO users(email) SELECT 'new' || g || '@x.org' FROM generate_series(1, 5) g");
        Cli.Result dry = recover("users");
        assertThat(dry.status()).as(dry.all()).isZero();
        assertThat(dry.out()).contains("public.users: 1,000 rows in the backup, 5 live", "missing live 1,000",
                "only live 5", "dry run: nothing was changed");
        assertThat(state("users").get("users")).startsWith("5:");

        Cli.Result applied = recover("users", "--apply", "--yes");
        assertThat(applied.status()).as(applied.all()).isZero();
        assertThat(applied.out()).contains("1,000 rows inserted", "safety backup of those tables: app/safety/");
        assertThat(count("SELECT count(*) FROM users")).isEqualTo(1005);
        assertThat(count("SELECT count(*) FROM users WHERE email LIKE 'new%'")).isEqualTo(5);
        try (Connection c = pg.connect(db); Statement st = c.createStatement()) {
            st.execute("DELETE FROM users WHERE email LIKE 'new%'");
        }
        assertThat(state("users")).as("the old rows, exactly").isEqualTo(before);
        assertThat(state("customers", "orders", "items", "events")).as("other tables untouched").isEqualTo(others);
        pg.execute(db, "INSERT INTO users(email) VALUES ('after@x.org')"); // the sequence moved past the restored keys
    }

    @Test
    void truncateCascadeAcrossThreeTablesLinkedByForeignKeys() throws Exception {
        Map<String, String> before = state("customers", "orders", "items");
        pg.execute(db, "TRUNCATE customers CASCADE");
        Cli.Result r = recover("items", "orders", "customers", "--apply", "--yes"); // any order: parents go first
        assertThat(r.status()).as(r.all()).isZero();
        assertThat(state("customers", "orders", "items")).isEqualTo(before);
    }

    @Test
    void updateWithoutWhereIsResetOnlyWithChanged() throws Exception {
        Map<String, String> before = state("users");
        pg.execute(db, "UPDATE users SET email = NULL");
        Cli.Result dry = recover("users");
        assertThat(dry.out()).contains("missing live 0", "changed 1,000", "(e.g. 1; 2; 3; 4; 5)");
        Cli.Result withoutChanged = recover("users", "--apply", "--yes");
        assertThat(withoutChanged.out()).contains("nothing to apply");
        assertThat(count("SELECT count(*) FROM users WHERE email IS NULL")).isEqualTo(1000);
        Cli.Result reset = recover("users", "--apply", "--changed", "--yes");
        assertThat(reset.status()).as(reset.all()).isZero();
        assertThat(reset.out()).contains("1,000 rows reset");
        assertThat(state("users")).isEqualTo(before);
    }

    @Test
    void dropTableOfATableReferencedByAnother() throws Exception {
        Map<String, String> before = state("accounts", "payments");
        pg.execute(db, "DROP TABLE accounts CASCADE");
        Cli.Result dry = recover("accounts");
        assertThat(dry.out()).contains("public.accounts: does not exist live; the backup holds 100 rows");
        Cli.Result r = recover("accounts", "--apply", "--yes");
        assertThat(r.status()).as(r.all()).isZero();
        assertThat(r.out()).contains("public.accounts: recreated with 100 rows");
        assertThat(state("accounts", "payments")).isEqualTo(before);
        assertThat(count("SELECT count(*) FROM pg_indexes WHERE tablename = 'accounts'")).as("pkey, unique, index").isEqualTo(3);
        assertThat(count("SELECT count(*) FROM pg_constraint WHERE conrelid = 'accounts'::regclass AND contype = 'c'"))
                .isEqualTo(1);
        assertThat(count("SELECT count(*) FROM pg_constraint WHERE conrelid = 'payments'::regclass AND contype = 'f'"
                + " AND confrelid = 'accounts'::regclass AND convalidated")).as("the foreign key that pointed at it").isEqualTo(1);
        assertThat(count("SELECT count(*) FROM pg_description WHERE objoid = 'accounts'::regclass")).isEqualTo(1);
    }

    @Test
    void dropSchemaCascade() throws Exception {
        Map<String, String> before = state("billing.invoices", "billing.lines");
        pg.execute(db, "DROP SCHEMA billing CASCADE");
        Cli.Result r = recover("billing.invoices", "--apply", "--yes");
        assertThat(r.status()).as(r.all()).isZero();
        assertThat(state("billing.invoices", "billing.lines")).isEqualTo(before);
        pg.execute(db, "INSERT INTO billing.invoices(amount) VALUES (1)"); // its serial moved past the restored ids
    }

    @Test
    void aTableWithoutPrimaryKeyIsComparedByWholeRows() throws Exception {
        Map<String, String> before = state("events");
        pg.execute(db, "DELETE FROM events WHERE at < 3", "INSERT INTO events VALUES (99, 'since')");
        Cli.Result dry = recover("events");
        assertThat(dry.out()).contains("no primary key: compared by whole rows", "only live 1");
        Cli.Result r = recover("events", "--apply", "--yes");
        assertThat(r.status()).as(r.all()).isZero();
        pg.execute(db, "DELETE FROM events WHERE at = 99");
        assertThat(state("events")).isEqualTo(before);
    }

    @Test
    void aCompositePrimaryKey() throws Exception {
        Map<String, String> before = state("items");
        pg.execute(db, "DELETE FROM items WHERE line = 2", "UPDATE items SET sku = 'changed' WHERE line = 3 AND order_id < 10");
        Cli.Result dry = recover("items");
        assertThat(dry.out()).contains("missing live 200", "changed 9", "(e.g. 1,2;");
        assertThat(recover("items", "--apply", "--changed", "--yes").status()).isZero();
        assertThat(state("items")).isEqualTo(before);
    }

    @Test
    void anApplyInterruptedByKillingItsConnectionChangesNothingAndASecondApplyChangesNothing() throws Exception {
        pg.execute(db, "DELETE FROM users WHERE id > 100");
        Map<String, String> before = state("users");
        AtomicReference<Cli.Result> result = new AtomicReference<>();
        // Another session inserts one of the missing keys and does not commit: the apply's insert of that key
        // waits for it, so it can be killed mid-way.
        try (Connection blocker = pg.connect(db); Statement st = blocker.createStatement()) {
            blocker.setAutoCommit(false);
            st.execute("INSERT INTO users(id, email) VALUES (150, 'uncommitted')");
            Thread t = new Thread(() -> result.set(recover("users", "--apply", "--yes")), "recover-apply");
            t.start();
            Fixtures.await("the apply inside its INSERT", Duration.ofSeconds(60), () -> count(APPLY_WAITING) > 0);
            count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE (query LIKE 'INSERT INTO"
                    + " public.users%' OR query LIKE 'COPY public.users %') AND application_name = 'backstop'");
            t.join(60_000);
            blocker.rollback();
        }
        assertThat(result.get().status()).isNotZero();
        assertThat(result.get().err()).contains("recover");
        assertThat(state("users")).as("nothing changed").isEqualTo(before);

        assertThat(recover("users", "--apply", "--yes").status()).isZero();
        Map<String, String> after = state("users");
        assertThat(after.get("users")).startsWith("1000:");
        Cli.Result again = recover("users", "--apply", "--yes");
        assertThat(again.out()).contains("nothing to apply");
        assertThat(state("users")).as("a second apply does nothing").isEqualTo(after);
    }

    @Test
    void theAlarmPointsAtRecoverAndClearsAfterTheApply() throws Exception {
        pg.execute(db, "DELETE FROM items WHERE order_id > 20", "DELETE FROM orders WHERE id > 20");
        Cli.Result check = Cli.run(env, "check");
        assertThat(check.status()).isEqualTo(1);
        assertThat(check.out()).contains("backstop recover public.items public.orders --from pinned --target app");
        Cli.Result r = recover("public.items", "public.orders", "--apply", "--yes");
        assertThat(r.status()).as(r.all()).isZero();
        assertThat(r.out()).contains("the data-loss check now says: no drop");
        assertThat(Cli.run(env, "check").status()).isZero();
    }

    @Test
    void withYesMissingRowsComeStraightFromTheArchiveByKeyAndOtherKeysAreComparedInSql() throws Exception {
        pg.execute(db, "CREATE TABLE signed(note text, id int PRIMARY KEY)", // the key is not the first column
                "INSERT INTO signed SELECT 'n' || g, g FROM generate_series(-500, 500) g",
                "CREATE TABLE sparse(id bigint PRIMARY KEY, v text)", // keys spread over 2^40 values
                "INSERT INTO sparse SELECT g::bigint * 1099511627, 'v' || g FROM generate_series(1, 300) g");
        assertThat(Cli.run(env, "backup").status()).isZero();
        Map<String, String> before = state("signed", "sparse");
        pg.execute(db, "DELETE FROM signed WHERE id % 3 = 0", "DELETE FROM sparse WHERE id % 2 = 0",
                "INSERT INTO signed VALUES ('new', 1000)");
        Cli.Result r = recover("signed", "sparse", "--apply", "--yes", "--verbose");
        assertThat(r.status()).as(r.all()).isZero();
        assertThat(r.out()).contains("public.signed: 1,001 rows in the backup, 669 live, compared by primary key:"
                + " missing live 333 (e.g. -498; -495; -492; -489; -486), changed: not compared", "only live 1",
                "applied: 333 rows inserted", "public.sparse: 300 rows in the backup, 150 live", "missing live 150",
                "changed 0" /* compared in SQL */, "applied: 150 rows inserted");
        pg.execute(db, "DELETE FROM signed WHERE id = 1000");
        assertThat(state("signed", "sparse")).as("exactly the rows of the backup").isEqualTo(before);
        assertThat(recover("signed", "sparse", "--apply", "--yes").out()).contains("nothing to apply");
    }

    @Test
    void aMissingKeyWrittenMeanwhileFallsBackToTheFullComparison() throws Exception {
        pg.execute(db, "DELETE FROM users WHERE id > 900");
        // Written by the application between the keys' read and the insert: its transaction holds key 950
        // uncommitted while the apply reads the live keys, and commits while the apply's insert waits for it.
        AtomicReference<Cli.Result> result = new AtomicReference<>();
        try (Connection app = pg.connect(db); Statement st = app.createStatement()) {
            app.setAutoCommit(false);
            st.execute("INSERT INTO users(id, email) VALUES (950, 'meanwhile')");
            Thread t = new Thread(() -> result.set(recover("users", "--apply", "--yes")), "recover-apply");
            t.start();
            Fixtures.await("the apply waiting for key 950", Duration.ofSeconds(60), () -> count(APPLY_WAITING) > 0);
            app.commit();
            t.join(60_000);
        }
        Cli.Result r = result.get();
        assertThat(r.status()).as(r.all()).isZero();
        assertThat(r.out()).as("compared in SQL after the conflict, the key written meanwhile kept")
                .contains("missing live 99", "changed 1 (e.g. 950)", "applied: 99 rows inserted", "safety backup of those tables");
        assertThat(count("SELECT count(*) FROM users")).isEqualTo(1000);
        assertThat(count("SELECT count(*) FROM users WHERE id = 950 AND email = 'meanwhile'")).isEqualTo(1);
    }

    /** The apply's insert (or COPY) into users, waiting for a lock another session holds. */
    private static final String APPLY_WAITING = "SELECT count(*) FROM pg_stat_activity WHERE (query LIKE 'INSERT INTO"
            + " public.users%' OR query LIKE 'COPY public.users %') AND application_name = 'backstop'"
            + " AND wait_event_type = 'Lock'";

    private long count(String sql) {
        try (Connection c = pg.connect(db); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

}
