package io.backstop.fleet;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.backstop.Background;
import io.backstop.config.Settings;
import io.backstop.files.ProcessOwner;
import io.backstop.files.TargetLock;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's part in a fleet, besides Quartz's: it checks in to the fleet's database (by the database's clock,
 * warning when its own drifts from it), holds the target locks there ({@link TargetLock#across}), says whether
 * another node is still alive (so only a gone node's temporary files are swept), records each job's run for
 * every node to report, and reads the others' runs. Connections come from a small HikariCP pool of its own;
 * each held lock is a connection of its own, so the server releases it when this process ends, however it ends.
 */
public final class Fleet implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Fleet.class);
    /** A clock further than this from the database's is warned about: check-ins and misfires are judged by clocks. */
    static final Duration DRIFT_WARNING = Duration.ofSeconds(1);
    /** Nodes and runs older than this are forgotten (a node removed without a clean stop alarms this long). */
    static final Duration FORGET_AFTER = Duration.ofHours(24);
    /** When this process started, as its check-ins report it. */
    private static final Instant STARTED = Instant.now();

    /** A node of the fleet as last seen; {@code up}: it checked in within the fleet's {@code goneAfter}. */
    @com.fasterxml.jackson.databind.annotation.JsonNaming(
            com.fasterxml.jackson.databind.PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Node(String name, String host, long pid, String version, Instant startedAt, Instant lastSeen,
            boolean up) {
    }

    /** One run of one job: {@code kind} backup, check or drill; {@code ok} null while it runs. */
    public record Run(long seq, String target, String kind, String node, Instant startedAt, Instant finishedAt,
            Boolean ok, String error, int failures) {
    }

    private final Settings.Cluster cluster;
    private final String version;
    private final Clock clock;
    private final String tables;
    private HikariDataSource pool;
    private volatile List<Node> nodes = List.of();
    private volatile double driftSeconds;
    private boolean drifting;
    private long cursor;
    private java.util.concurrent.ScheduledExecutorService ticker;
    private final FleetLocks locks;
    private volatile boolean speaker;

    public Fleet(Settings.Cluster cluster, String version, Clock clock) {
        this.cluster = cluster;
        this.version = version;
        this.clock = clock;
        this.tables = cluster.schema() + ".";
        this.locks = new FleetLocks(cluster, redacted());
    }

    /** This process's locks and temporary files from now on belong to this node of the fleet. */
    public void join() {
        TargetLock.across(locks::hold);
        ProcessOwner.inFleet(cluster.node(), this::nodeAlive);
    }

    public String node() {
        return cluster.node();
    }

    private synchronized HikariDataSource pool() {
        if (pool == null) {
            ClusterStore.ensureSchema(cluster);
            HikariConfig config = new HikariConfig();
            config.setPoolName("backstop-fleet");
            config.setJdbcUrl(cluster.jdbcUrl());
            config.setDataSourceProperties(ClusterStore.login(cluster));
            config.setMaximumPoolSize(3);
            config.setMinimumIdle(0);
            // Recording a run must not hold a job up for long while the fleet's database is away.
            config.setConnectionTimeout(3_000);
            config.setInitializationFailTimeout(-1);
            pool = new HikariDataSource(config);
        }
        return pool;
    }

    /** Checks in now, then every {@code check-in}: nodes, clock drift, and the runs recorded since to {@code runs}. */
    public synchronized void start(Consumer<List<Run>> runs) {
        pool(); // the schema, created or upgraded once, and a failure to reach the job store fails the start
        tick(runs);
        ticker = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
                Background.threads("backstop-fleet-check-in"));
        long every = cluster.checkIn().toMillis();
        ticker.scheduleWithFixedDelay(() -> tick(runs), every, every, java.util.concurrent.TimeUnit.MILLISECONDS);
        log.info("fleet node {}: checked in to {} (schema {}), every {}", cluster.node(), redacted(), cluster.schema(),
                cluster.checkIn());
    }

    private void tick(Consumer<List<Run>> runs) {
        try {
            checkIn();
            speak();
            List<Run> since = runsSince();
            if (!since.isEmpty()) {
                runs.accept(since);
            }
        } catch (SQLException | RuntimeException e) {
            log.warn("fleet node {}: cannot check in to {}: {}; retrying every {}", cluster.node(), redacted(),
                    e.getMessage(), cluster.checkIn());
        }
    }

    private void checkIn() throws SQLException {
        try (Connection c = pool().getConnection()) {
            long before = clock.millis();
            Instant server;
            try (PreparedStatement st = c.prepareStatement("INSERT INTO " + tables + "backstop_nodes"
                    + " (node, host, pid, version, started_at, last_seen) VALUES (?, ?, ?, ?, ?, clock_timestamp())"
                    + " ON CONFLICT (node) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
                    + " version = excluded.version, started_at = excluded.started_at, last_seen = excluded.last_seen,"
                    + " left_at = NULL RETURNING last_seen")) {
                st.setString(1, cluster.node());
                st.setString(2, host());
                st.setLong(3, ProcessHandle.current().pid());
                st.setString(4, version);
                st.setTimestamp(5, Timestamp.from(STARTED));
                try (ResultSet rs = st.executeQuery()) {
                    rs.next();
                    server = rs.getTimestamp(1).toInstant();
                }
            }
            long after = clock.millis();
            // The server read its clock somewhere in the round trip: its middle is the fairest guess.
            double drift = ((before + after) / 2.0 - server.toEpochMilli()) / 1000.0;
            driftSeconds = drift;
            boolean now = Math.abs(drift) > DRIFT_WARNING.toMillis() / 1000.0;
            if (now && !drifting) {
                log.warn("fleet node {}: this host's clock is {} s {} the fleet database's; check-ins and misfires"
                        + " are judged by clocks, so a drift of {} or more can make the fleet take a live node as"
                        + " gone: run NTP (chrony, systemd-timesyncd) on every node", cluster.node(),
                        String.format(java.util.Locale.ROOT, "%.1f", Math.abs(drift)), drift > 0 ? "ahead of" : "behind",
                        cluster.checkIn());
            } else if (!now && drifting) {
                log.info("fleet node {}: clock back within {} of the fleet database's", cluster.node(), DRIFT_WARNING);
            }
            drifting = now;
            readNodes(c);
        }
    }

    private void readNodes(Connection c) throws SQLException {
        List<Node> seen = new ArrayList<>();
        try (PreparedStatement st = c.prepareStatement("SELECT node, host, pid, version, started_at, last_seen,"
                + " last_seen > clock_timestamp() - make_interval(secs => ?) FROM " + tables + "backstop_nodes"
                + " WHERE left_at IS NULL AND last_seen > clock_timestamp() - make_interval(secs => ?) ORDER BY node")) {
            st.setDouble(1, cluster.goneAfter().toMillis() / 1000.0);
            st.setDouble(2, FORGET_AFTER.toSeconds());
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    seen.add(new Node(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getString(4),
                            rs.getTimestamp(5).toInstant(), rs.getTimestamp(6).toInstant(), rs.getBoolean(7)));
                }
            }
        }
        nodes = List.copyOf(seen);
    }

    /**
     * Takes (or keeps) the speaker's part: one node of the fleet at a time sends the notifications, the first to
     * claim it, until its connection ends; then the next node to check in takes over.
     */
    private void speak() {
        boolean now = locks.claim("speaker");
        if (now && !speaker) {
            log.info("fleet node {}: speaks for the fleet (sends its notifications)", cluster.node());
        }
        speaker = now;
    }

    /** {@link FleetLocks#claim}: whether this node plays the part {@code key} now, claiming it when no node does. */
    public boolean claim(String key) {
        return locks.claim(key);
    }

    /** {@link FleetLocks#hold}, for tests. */
    AutoCloseable hold(String key, String target, long deadlineNanos) {
        return locks.hold(key, target, deadlineNanos);
    }

    /** Whether this node sends the fleet's notifications now. */
    public boolean speaks() {
        return speaker;
    }

    /** The fleet's nodes as of the last check-in: those that left cleanly (or long ago) are not among them. */
    public List<Node> nodes() {
        return nodes;
    }

    /** Seconds this host's clock is ahead of the fleet database's (negative: behind), as of the last check-in. */
    public double driftSeconds() {
        return driftSeconds;
    }

    /**
     * Whether the node whose {@link ProcessOwner#nodeHash} is {@code hash} is still a member of the fleet, by
     * Quartz's own judgement: the others delete a node's scheduler state exactly when they take its jobs over, so
     * a recovered backup always finds its dead predecessor's files sweepable, and a live node's never.
     */
    private boolean nodeAlive(String hash) {
        try (Connection c = pool().getConnection(); PreparedStatement st = c.prepareStatement(
                "SELECT instance_name FROM " + tables + "qrtz_scheduler_state");
                ResultSet rs = st.executeQuery()) {
            while (rs.next()) {
                if (ProcessOwner.nodeHash(rs.getString(1)).equals(hash)) {
                    return true;
                }
            }
            return false;
        } catch (SQLException e) {
            return true; // cannot tell: a file that may still be written is left be
        }
    }

    /** A job of {@code target} began here; returns its run's id. */
    public long started(String target, String kind) {
        try (Connection c = pool().getConnection(); PreparedStatement st = c.prepareStatement("INSERT INTO " + tables
                + "backstop_runs (seq, target, kind, node, started_at) VALUES (nextval('" + tables
                + "backstop_runs_seq'), ?, ?, ?, clock_timestamp()) RETURNING id")) {
            st.setString(1, target);
            st.setString(2, kind);
            st.setString(3, cluster.node());
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (SQLException e) {
            log.warn("fleet: cannot record the start of {} of target {}: {}", kind, target, e.getMessage());
            return -1;
        }
    }

    /** The run {@code id} ended: {@code error} null when it succeeded. */
    public void finished(long id, String error, int failures) {
        if (id < 0) {
            return;
        }
        try (Connection c = pool().getConnection(); PreparedStatement st = c.prepareStatement("UPDATE " + tables
                + "backstop_runs SET seq = nextval('" + tables + "backstop_runs_seq'), finished_at = clock_timestamp(),"
                + " ok = ?, error = ?, failures = ? WHERE id = ?")) {
            st.setBoolean(1, error == null);
            st.setString(2, error);
            st.setInt(3, failures);
            st.setLong(4, id);
            st.executeUpdate();
        } catch (SQLException e) {
            log.warn("fleet: cannot record the end of run {}: {}", id, e.getMessage());
        }
    }

    /** The runs started or finished since the last call, of every node; the first call gives the newest of each. */
    private List<Run> runsSince() throws SQLException {
        String sql = cursor == 0
                ? "SELECT DISTINCT ON (target, kind) seq, target, kind, node, started_at, finished_at, ok, error,"
                        + " failures FROM " + tables + "backstop_runs ORDER BY target, kind, seq DESC"
                : "SELECT seq, target, kind, node, started_at, finished_at, ok, error, failures FROM " + tables
                        + "backstop_runs WHERE seq > ? ORDER BY seq";
        List<Run> runs = new ArrayList<>();
        try (Connection c = pool().getConnection(); PreparedStatement st = c.prepareStatement(sql)) {
            if (cursor != 0) {
                st.setLong(1, cursor);
            }
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    Timestamp finished = rs.getTimestamp(6);
                    boolean ok = rs.getBoolean(7);
                    runs.add(new Run(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4),
                            rs.getTimestamp(5).toInstant(), finished == null ? null : finished.toInstant(),
                            rs.wasNull() ? null : ok, rs.getString(8), rs.getInt(9)));
                }
            }
            if (cursor == 0) {
                try (PreparedStatement max = c.prepareStatement("SELECT coalesce(max(seq), 0) FROM " + tables
                        + "backstop_runs"); ResultSet rs = max.executeQuery()) {
                    rs.next();
                    cursor = Math.max(1, rs.getLong(1));
                }
                runs.sort(java.util.Comparator.comparingLong(Run::seq));
            } else if (!runs.isEmpty()) {
                cursor = runs.get(runs.size() - 1).seq();
            }
            try (PreparedStatement trim = c.prepareStatement("DELETE FROM " + tables + "backstop_runs WHERE started_at"
                    + " < clock_timestamp() - make_interval(secs => ?) AND finished_at IS NOT NULL")) {
                trim.setDouble(1, FORGET_AFTER.toSeconds() * 7.0);
                trim.executeUpdate();
            }
        }
        return runs;
    }

    /** The fleet database's URL without anything secret in it (a JDBC URL may carry a password). */
    String redacted() {
        String url = cluster.jdbcUrl();
        int q = url.indexOf('?');
        return q < 0 ? url : url.substring(0, q);
    }

    private static String host() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return "unknown";
        }
    }

    /** Leaves the fleet cleanly: the others do not alarm about a node that said it left. */
    @Override
    public synchronized void close() {
        if (ticker != null) {
            ticker.shutdownNow();
            ticker = null;
            locks.close();
            speaker = false;
            try (Connection c = pool().getConnection(); PreparedStatement st = c.prepareStatement("UPDATE " + tables
                    + "backstop_nodes SET left_at = clock_timestamp() WHERE node = ? AND pid = ?")) {
                st.setString(1, cluster.node());
                st.setLong(2, ProcessHandle.current().pid());
                st.executeUpdate();
            } catch (SQLException e) {
                log.warn("fleet node {}: could not record leaving: {}", cluster.node(), e.getMessage());
            }
        }
        if (pool != null) {
            pool.close();
            pool = null;
        }
    }
}
