package io.backstop.testing;

import io.backstop.pg.LocalCluster;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.List;
import java.util.UUID;

/** A throwaway cluster ({@link LocalCluster}) with the helpers tests use to seed and inspect it. */
public final class PgCluster implements AutoCloseable {
    public static final String SUPERUSER = LocalCluster.SUPERUSER;
    private static PgCluster shared;

    private final LocalCluster cluster;

    private PgCluster(LocalCluster cluster) {
        this.cluster = cluster;
    }

    /** One cluster for the whole test JVM; tests isolate themselves by database. */
    public static synchronized PgCluster shared() {
        if (shared == null) {
            shared = start();
            PgCluster s = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(s::close, "pg-cluster-stop"));
        }
        return shared;
    }

    public static PgCluster start() {
        String password = "pw-" + UUID.randomUUID().toString().replace("-", "").substring(0, 20) + ":x\\y";
        return new PgCluster(LocalCluster.start(binDir(), password));
    }

    /** A cluster that streams WAL (wal_level replica, senders, slots), with {@code settings} on top. */
    public static PgCluster startReplicating(java.util.Map<String, String> settings) {
        String password = "pw-" + UUID.randomUUID().toString().replace("-", "").substring(0, 20) + ":x\\y";
        return new PgCluster(LocalCluster.startReplicating(binDir(), password, settings));
    }

    /** pg_ctl stop -m immediate: the server goes away as in a crash, and recovers at its next start. */
    public void crash() {
        cluster.stopServer("immediate");
    }

    /** The server's data directory (its pg_hba.conf, postgresql.conf). */
    public Path dataDirectory() {
        return cluster.dir().resolve("data");
    }

    public static Path binDir() {
        return LocalCluster.serverBinaries();
    }

    public void startServer() {
        cluster.startServer();
    }

    public void stopServer() {
        cluster.stopServer();
    }

    public int port() {
        return cluster.port();
    }

    public String host() {
        return cluster.host();
    }

    public String password() {
        return cluster.password();
    }

    public Path bin() {
        return cluster.bin();
    }

    public Connection connect(String database) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", SUPERUSER);
        props.setProperty("password", password());
        return DriverManager.getConnection("jdbc:postgresql://" + host() + ":" + port() + "/" + database, props);
    }

    /** A new empty database with a unique name. */
    public String createDatabase(String prefix) {
        String name = prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
        execute("postgres", "CREATE DATABASE " + name);
        return name;
    }

    public void execute(String database, String... sql) {
        try (Connection c = connect(database); Statement st = c.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    public long count(String database, String table) {
        try (Connection c = connect(database); Statement st = c.createStatement();
                var rs = st.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /** Restores {@code dump} into {@code database} with the real pg_restore, stopping at the first error. */
    public void restore(Path dump, String database) {
        try {
            boolean zstd = dump.getFileName().toString().endsWith(".zst");
            List<String> command = new java.util.ArrayList<>(List.of(bin().resolve("pg_restore").toString(),
                    "--exit-on-error", "--no-password", "-h", host(), "-p", Integer.toString(port()), "-U", SUPERUSER,
                    "-d", database));
            if (!zstd) {
                command.add(dump.toString());
            }
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
            pb.environment().put("PGPASSWORD", password());
            Process p = pb.start();
            if (zstd) { // what `zstd -dc < FILE | pg_restore` does
                try (var in = new com.github.luben.zstd.ZstdInputStream(Files.newInputStream(dump));
                        var out = p.getOutputStream()) {
                    in.transferTo(out);
                }
            } else {
                p.getOutputStream().close();
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IllegalStateException("pg_restore of " + dump + " failed: " + out);
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        cluster.close();
    }
}
