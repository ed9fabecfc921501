package io.backstop.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throwaway PostgreSQL cluster from the local binaries: initdb and pg_ctl in a temp dir
 * under /tmp on a free port, listening on 127.0.0.1 only, password (scram) auth over TCP.
 * As root the server runs as the postgres user through runuser, with the directory owned by it.
 */
public final class PgCluster implements AutoCloseable {
    public static final String SUPERUSER = "postgres";
    private static PgCluster shared;

    private final Path bin;
    private final Path dir;
    private final Path data;
    private final int port;
    private final String password;
    private boolean running;

    private PgCluster(Path bin, Path dir, int port, String password) {
        this.bin = bin;
        this.dir = dir;
        this.data = dir.resolve("data");
        this.port = port;
        this.password = password;
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
        try {
            Path bin = binDir();
            Path dir = Files.createTempDirectory(Path.of("/tmp"), "backstop-pg-");
            String password = "pw-" + UUID.randomUUID().toString().replace("-", "").substring(0, 20) + ":x\\y";
            PgCluster cluster = new PgCluster(bin, dir, freePort(), password);
            cluster.init();
            cluster.startServer();
            return cluster;
        } catch (IOException e) {
            throw new IllegalStateException("cannot start a PostgreSQL cluster: " + e.getMessage(), e);
        }
    }

    public static Path binDir() {
        Path root = Path.of("/usr/lib/postgresql");
        try (Stream<Path> majors = Files.list(root)) {
            return majors.filter(p -> Files.isExecutable(p.resolve("bin/initdb")))
                    .max(Comparator.comparingDouble(p -> Double.parseDouble(p.getFileName().toString())))
                    .map(p -> p.resolve("bin"))
                    .orElseThrow(() -> new IllegalStateException("no PostgreSQL server binaries under " + root));
        } catch (IOException e) {
            throw new IllegalStateException("no PostgreSQL server binaries under " + root
                    + " (install postgresql): " + e.getMessage(), e);
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    private void init() throws IOException {
        Path pwfile = dir.resolve("pwfile");
        Files.writeString(pwfile, password + "\n", StandardCharsets.UTF_8);
        if (isRoot()) {
            exec(List.of("chown", "-R", "postgres:postgres", dir.toString()));
        }
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        asPostgres(List.of(bin.resolve("initdb").toString(), "-D", data.toString(), "-U", SUPERUSER,
                "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile=" + pwfile, "-E", "UTF8",
                "--locale=C", "--no-sync"));
        Files.deleteIfExists(pwfile);
    }

    public synchronized void startServer() {
        String options = "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c fsync=off"
                + " -c full_page_writes=off -c synchronous_commit=off -c max_connections=100";
        asPostgres(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", dir.resolve("log").toString(),
                "-w", "-t", "60", "-o", options, "start"));
        running = true;
    }

    public synchronized void stopServer() {
        if (running) {
            asPostgres(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "fast", "-w", "stop"));
            running = false;
        }
    }

    private void asPostgres(List<String> command) {
        List<String> full = new ArrayList<>();
        if (isRoot()) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(command);
        exec(full);
    }

    private void exec(List<String> command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                String log = Files.exists(dir.resolve("log")) ? Files.readString(dir.resolve("log")) : "";
                throw new IllegalStateException(String.join(" ", command) + " failed:\n" + out + "\n" + log);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + command.get(0) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    public int port() {
        return port;
    }

    public String host() {
        return "127.0.0.1";
    }

    public String password() {
        return password;
    }

    public Path bin() {
        return bin;
    }

    public Connection connect(String database) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", SUPERUSER);
        props.setProperty("password", password);
        return DriverManager.getConnection("jdbc:postgresql://" + host() + ":" + port + "/" + database, props);
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
            ProcessBuilder pb = new ProcessBuilder(bin.resolve("pg_restore").toString(), "--exit-on-error",
                    "--no-password", "-h", host(), "-p", Integer.toString(port), "-U", SUPERUSER, "-d", database,
                    dump.toString()).redirectErrorStream(true);
            pb.environment().put("PGPASSWORD", password);
            Process p = pb.start();
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
    public synchronized void close() {
        try {
            stopServer();
        } catch (RuntimeException e) {
            // best effort at JVM exit
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // temp dir
        }
    }
}
