package io.backstop.recover;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.testing.Cli;
import io.backstop.testing.PgCluster;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * recover run by the tables' owner, the login an application's database is usually backed up with:
 * no superuser, so it may not act as a replica. Triggers are disabled by name inside the apply's
 * transaction instead, and the foreign keys a rekey must move past are dropped and added back (the
 * server validating them), so the same undo holds.
 */
class RecoverAsOwnerIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    private String db;
    private Map<String, String> env;

    @BeforeEach
    void app() {
        String role = "owner_" + Long.toHexString(System.nanoTime());
        db = pg.createDatabase("owned");
        pg.execute("postgres", "CREATE ROLE " + role + " LOGIN PASSWORD 'owner-pw'", "ALTER DATABASE " + db
                + " OWNER TO " + role);
        pg.execute(db, "SET ROLE " + role,
                "CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS"
                        + " $$BEGIN NEW.last_update := clock_timestamp(); RETURN NEW; END$$",
                "CREATE TABLE film(id serial PRIMARY KEY, title text NOT NULL,"
                        + " last_update timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00')",
                "CREATE TRIGGER film_stamp BEFORE INSERT OR UPDATE ON film FOR EACH ROW EXECUTE FUNCTION stamp()",
                "CREATE TABLE customer(id serial PRIMARY KEY, name text NOT NULL)",
                "CREATE TABLE rental(id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customer, note text)",
                "INSERT INTO film(title) SELECT 'film ' || g FROM generate_series(1, 50) g",
                "INSERT INTO customer(name) SELECT 'customer ' || g FROM generate_series(1, 40) g",
                "INSERT INTO rental(customer_id, note) SELECT g % 40 + 1, 'rental ' || g FROM generate_series(1, 100) g");
        env = Cli.env(pg, db, dir.resolve("backups"));
        env.put("PGUSER", role);
        env.put("PGPASSWORD", "owner-pw");
        Cli.Result backup = Cli.run(env, "backup");
        assertThat(backup.status()).as(backup.all()).isZero();
    }

    @Test
    void changedRowsGetTheBackupsValuesWithTheTriggerDisabledOnlyInsideTheApply() throws Exception {
        List<String> before = rows("SELECT x::text FROM film x ORDER BY id");
        pg.execute(db, "UPDATE film SET title = upper(title)");
        Cli.Result r = Cli.run(env, "recover", "film", "--changed", "--apply", "--yes");
        assertThat(r.status()).as(r.all()).isZero();
        assertThat(rows("SELECT x::text FROM film x ORDER BY id")).as("last_update as in the backup").isEqualTo(before);
        assertThat(rows("SELECT tgenabled::text FROM pg_trigger WHERE tgname = 'film_stamp'"))
                .as("enabled again as it was").containsExactly("O");
        pg.execute(db, "UPDATE film SET title = 'after' WHERE id = 1");
        assertThat(rows("SELECT (last_update > '2026-06-01')::text FROM film WHERE id = 1")).as("and it fires again")
                .containsExactly("true");
    }

    @Test
    void aResetTableIsRekeyedWithItsForeignKeysAddedBackAndValidated() throws Exception {
        List<String> customers = rows("SELECT x::text FROM customer x ORDER BY id");
        List<String> rentals = rows("SELECT x::text FROM rental x ORDER BY id");
        pg.execute(db, "TRUNCATE customer, rental RESTART IDENTITY",
                "INSERT INTO customer(name) VALUES ('new a'), ('new b')",
                "INSERT INTO rental(customer_id, note) VALUES (2, 'new rental of b'), (1, 'new rental of a')");
        Cli.Result r = Cli.run(env, "recover", "customer", "rental", "--rekey-new", "--apply", "--yes");
        assertThat(r.status()).as(r.all()).isZero();
        assertThat(r.out()).contains("moved 2 rows written since the backup to fresh keys (1→41, 2→42)");
        assertThat(rows("SELECT x::text FROM customer x WHERE id <= 40 ORDER BY id")).isEqualTo(customers);
        assertThat(rows("SELECT x::text FROM rental x WHERE id <= 100 ORDER BY id")).isEqualTo(rentals);
        assertThat(rows("SELECT r.note || ' -> ' || c.name FROM rental r JOIN customer c ON c.id = r.customer_id"
                + " WHERE r.id > 100 ORDER BY 1")).containsExactly("new rental of a -> new a", "new rental of b -> new b");
        assertThat(rows("SELECT conname || ' ' || convalidated FROM pg_constraint WHERE conrelid = 'rental'::regclass"
                + " AND contype = 'f'")).as("the foreign key is back, validated").containsExactly("rental_customer_id_fkey true");
    }

    @Test
    void aLoginThatMayNeitherActAsAReplicaNorDisableTheTriggersIsToldWhatItNeedsAndNothingChanges()
            throws Exception {
        String writer = "writer_" + Long.toHexString(System.nanoTime());
        pg.execute("postgres", "CREATE ROLE " + writer + " LOGIN PASSWORD 'writer-pw'");
        pg.execute(db, "GRANT SELECT, INSERT, UPDATE ON film TO " + writer, "GRANT SELECT, USAGE ON SEQUENCE film_id_seq TO "
                + writer);
        pg.execute(db, "UPDATE film SET title = upper(title)");
        List<String> incident = rows("SELECT x::text FROM film x ORDER BY id");
        Map<String, String> asWriter = new java.util.HashMap<>(env);
        asWriter.put("PGUSER", writer);
        asWriter.put("PGPASSWORD", "writer-pw");
        Cli.Result r = Cli.run(asWriter, "recover", "film", "--changed", "--apply", "--yes");
        assertThat(r.status()).as(r.all()).isEqualTo(2);
        assertThat(r.err()).contains("nothing changed", "without firing the tables' triggers",
                "GRANT SET ON PARAMETER session_replication_role", "the tables' owner");
        assertThat(rows("SELECT x::text FROM film x ORDER BY id")).isEqualTo(incident);
    }

    private List<String> rows(String sql) throws Exception {
        List<String> out = new ArrayList<>();
        try (Connection c = pg.connect(db); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }
}
