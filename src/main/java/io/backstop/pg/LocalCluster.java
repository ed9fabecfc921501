package io.backstop.pg;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.files.ProcessOwner;
import io.backstop.files.Sweep;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throwaway PostgreSQL cluster from the local server binaries, for restore drills, undo,
 * {@code backstop demo} and the tests: initdb and pg_ctl in a fresh directory (under /tmp or a
 * given parent), a free port on 127.0.0.1, password (scram) authentication over TCP, fsync off.
 * As root, the server runs as the postgres user through runuser, with the directory owned by it
 * (initdb refuses root). Each directory records the process that owns it, so a cluster left by a
 * killed process is stopped and removed by {@link #sweep}.
 */
public final class LocalCluster implements AutoCloseable {
    public static final String SUPERUSER = "postgres";

    private final Path bin;
    private final Path dir;
    private final Path data;
    private final int port;
    private final String password;
    private final java.util.Map<String, String> settings;
    private java.time.Duration startTimeout = java.time.Duration.ofSeconds(60);
    private boolean running;

    private LocalCluster(Path bin, Path dir, int port, String password, java.util.Map<String, String> settings) {
        this.bin = bin;
        this.dir = dir;
        this.data = dir.resolve("data");
        this.port = port;
        this.password = password;
        java.util.Map<String, String> all = new java.util.LinkedHashMap<>();
        all.put("fsync", "off");
        all.put("wal_level", "minimal");
        all.put("max_wal_senders", "0");
        all.put("max_wal_size", "1GB");
        all.put("full_page_writes", "off");
        all.put("synchronous_commit", "off");
        all.put("max_connections", "100");
        all.putAll(settings);
        this.settings = java.util.Map.copyOf(all);
    }

    /**
     * A cluster that streams WAL like a production server: wal_level replica, WAL senders and slots, full
     * page writes, fsync off; {@code more} settings on top (e.g. max_slot_wal_keep_size).
     */
    public static LocalCluster startReplicating(Path binDir, String password, java.util.Map<String, String> more) {
        java.util.Map<String, String> s = new java.util.LinkedHashMap<>(java.util.Map.of("wal_level", "replica",
                "max_wal_senders", "10", "max_replication_slots", "10", "full_page_writes", "on",
                "synchronous_commit", "on"));
        s.putAll(more);
        return start(binDir, password, Path.of("/tmp"), s);
    }

    /** The prefix of every cluster directory: what {@link #sweep} looks for. */
    public static final String DIR_PREFIX = "backstop-pg-";
    private static final String OWNER = "owner";

    /** initdb and start under /tmp; the newest /usr/lib/postgresql/N/bin unless {@code binDir} says otherwise. */
    public static LocalCluster start(Path binDir, String password) {
        return start(binDir, password, Path.of("/tmp"));
    }

    /**
     * A new cluster directory under {@code parent} (owned by this process, for {@link #sweep}) whose
     * {@code data} the caller fills, e.g. with a base backup, before {@link #recover}.
     */
    public static Path newDirectory(Path parent) {
        try {
            Files.createDirectories(parent);
            Path dir = Files.createTempDirectory(parent, DIR_PREFIX);
            Files.writeString(dir.resolve(OWNER), ProcessOwner.current(), StandardCharsets.UTF_8);
            return dir;
        } catch (IOException e) {
            throw new BackstopException(ExitCode.TOOLS, "cannot create a PostgreSQL cluster under " + parent + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Starts the server over {@code dir/data} as it is (a base backup with recovery settings written) with
     * {@code settings} on top of the throwaway defaults, waiting up to {@code timeout} for it to accept
     * connections (a recovery replays first). On failure the directory is removed and the server log's last
     * lines are in the error.
     */
    public static LocalCluster recover(Path binDir, Path dir, java.util.Map<String, String> settings,
            java.time.Duration timeout) {
        LocalCluster cluster;
        try {
            cluster = new LocalCluster(binDir, dir, freePort(), "", settings);
        } catch (IOException e) {
            throw new BackstopException(ExitCode.TOOLS, "no free port for a cluster: " + e.getMessage(), e);
        }
        cluster.startTimeout = timeout;
        try {
            if (isRoot()) {
                cluster.exec(List.of("chown", "-R", "postgres:postgres", dir.toString()));
            }
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            Files.setPosixFilePermissions(cluster.data, PosixFilePermissions.fromString("rwx------"));
            cluster.startServer();
            return cluster;
        } catch (IOException | RuntimeException e) {
            cluster.close();
            throw e instanceof BackstopException b ? b
                    : new BackstopException(ExitCode.TOOLS, "cannot start a cluster in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The server's log so far (its last lines name why a recovery stopped). */
    public String log() {
        try {
            return Files.exists(dir.resolve("log")) ? Files.readString(dir.resolve("log")) : "";
        } catch (IOException e) {
            return "";
        }
    }

    /** initdb and start in a new directory under {@code parent}. */
    public static LocalCluster start(Path binDir, String password, Path parent) {
        return start(binDir, password, parent, java.util.Map.of());
    }

    private static LocalCluster start(Path binDir, String password, Path parent, java.util.Map<String, String> settings) {
        try {
            Files.createDirectories(parent);
            Path dir = Files.createTempDirectory(parent, DIR_PREFIX);
            Files.writeString(dir.resolve(OWNER), ProcessOwner.current(), StandardCharsets.UTF_8);
            LocalCluster cluster = new LocalCluster(binDir, dir, freePort(), password, settings);
            try {
                cluster.init();
                cluster.startServer();
            } catch (RuntimeException e) {
                cluster.close(); // a cluster that never came up is removed at once, not left for a sweep
                throw e;
            }
            return cluster;
        } catch (IOException e) {
            throw new BackstopException(ExitCode.TOOLS, "cannot create a PostgreSQL cluster under " + parent + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Stops and removes every cluster under {@code parent} whose owning process is gone (a killed
     * drill's): its postmaster is stopped immediately and its directory deleted. Returns them.
     */
    public static List<Path> sweep(Path parent) {
        try {
            return Sweep.run(parent, DIR_PREFIX + "*", dir -> Files.isRegularFile(dir.resolve(OWNER))
                    && !ProcessOwner.alive(Files.readString(dir.resolve(OWNER)).strip())
                    ? "a drill's cluster whose process is gone" : null, dir -> {
                        Path pidFile = dir.resolve("data/postmaster.pid");
                        if (Files.isRegularFile(pidFile)) {
                            String pid = Files.readAllLines(pidFile).get(0).strip();
                            ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
                        }
                        return Sweep.deleteTree(dir);
                    });
        } catch (RuntimeException e) {
            return List.of(); // best effort: the next sweep tries again
        }
    }

    private static void deleteTree(Path dir) {
        try {
            Sweep.deleteTree(dir);
        } catch (IOException ignored) {
            // gone already, or not ours to delete
        }
    }

    /** The server binaries of PostgreSQL {@code major} (initdb and postgres beside pg_dump, or /usr/lib/postgresql/N/bin). */
    public static Optional<Path> serverBinaries(Path besidePgDump, String major) {
        for (Path candidate : List.of(besidePgDump, Path.of("/usr/lib/postgresql", major, "bin"))) {
            if (Files.isExecutable(candidate.resolve("initdb")) && Files.isExecutable(candidate.resolve("postgres"))) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /** The newest local server binaries (initdb and postgres), for a throwaway cluster. */
    public static Path serverBinaries() {
        Path root = Path.of("/usr/lib/postgresql");
        try (Stream<Path> majors = Files.list(root)) {
            return majors.filter(p -> Files.isExecutable(p.resolve("bin/initdb")))
                    .max(Comparator.comparingDouble(p -> Double.parseDouble(p.getFileName().toString())))
                    .map(p -> p.resolve("bin"))
                    .orElseThrow(() -> noServer(root, null));
        } catch (IOException e) {
            throw noServer(root, e);
        }
    }

    private static BackstopException noServer(Path root, IOException cause) {
        return new BackstopException(ExitCode.TOOLS, "no PostgreSQL server binaries (initdb) under " + root
                + ": install them (apt-get install postgresql) to run a throwaway cluster", cause);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
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
        // TCP only: a Unix socket's path may not exceed 107 bytes, and the cluster may live under any
        // backup directory. Nothing connects through a socket; pg_ctl -w waits on postmaster.pid.
        StringBuilder options = new StringBuilder("-p " + port + " -c unix_socket_directories='' -c listen_addresses=127.0.0.1");
        settings.forEach((k, v) -> options.append(" -c ").append(k).append('=').append(v));
        running = true; // from here on, close() stops whatever pg_ctl managed to start
        asPostgres(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", dir.resolve("log").toString(),
                "-w", "-t", Long.toString(Math.max(60, startTimeout.toSeconds())), "-o", options.toString(), "start"));
    }

    public synchronized void stopServer() {
        stopServer("fast");
    }

    /** Stops the server with pg_ctl's {@code mode}: fast, or immediate (a crash: no checkpoint, recovery at the next start). */
    public synchronized void stopServer(String mode) {
        if (running) {
            asPostgres(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", mode, "-w", "stop"));
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
            Process p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(Math.max(120, startTimeout.toSeconds() + 60), TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                String log = Files.exists(dir.resolve("log")) ? Files.readString(dir.resolve("log")) : "";
                throw new BackstopException(ExitCode.TOOLS, "cannot start a throwaway PostgreSQL cluster in " + dir + ": "
                        + Path.of(command.get(command.indexOf("--") + 1)).getFileName() + " failed: "
                        + lastLines(out + "\n" + log, 6));
            }
        } catch (IOException e) {
            throw new BackstopException(ExitCode.TOOLS, "cannot run " + command.get(0) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BackstopException(ExitCode.INTERRUPTED, "interrupted while running " + command.get(0), e);
        }
    }

    /** The last {@code n} non-blank lines: the cause, without the whole log. */
    private static String lastLines(String text, int n) {
        List<String> lines = text.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
        return String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
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

    public Path dir() {
        return dir;
    }

    /** Stops the server and deletes its directory. */
    @Override
    public synchronized void close() {
        try {
            stopServer();
        } catch (RuntimeException e) {
            // best effort: the directory goes anyway
        }
        deleteTree(dir);
    }
}
