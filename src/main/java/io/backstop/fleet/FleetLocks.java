package io.backstop.fleet;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.config.Settings;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one node of a fleet holds in the fleet's database, as session advisory locks the server releases the
 * moment the holding connection ends, however this process ends: a target's lock for the length of a job (each
 * on a connection of its own), and the parts one node plays at a time ("claims": speaking for the fleet,
 * streaming a target's WAL), all on one connection that is checked every second.
 */
final class FleetLocks {
    private static final Logger log = LoggerFactory.getLogger(FleetLocks.class);

    private final Settings.Cluster cluster;
    private final String where;
    /** The connection holding this node's claims, and the keys it holds. */
    private Connection claims;
    private final java.util.Set<String> claimed = new java.util.HashSet<>();
    private long claimsCheckedAt;

    /** {@code where}: the fleet database as errors may name it (nothing secret in it). */
    FleetLocks(Settings.Cluster cluster, String where) {
        this.cluster = cluster;
        this.where = where;
    }

    /**
     * Holds {@code key} in the fleet's database: a session advisory lock on a connection of its own, tried until
     * {@code deadlineNanos}; closing the handle (or this process ending) releases it.
     */
    AutoCloseable hold(String key, String target, long deadlineNanos) {
        Connection c = null;
        try {
            c = DriverManager.getConnection(cluster.jdbcUrl(), ClusterStore.login(cluster));
            try (PreparedStatement st = c.prepareStatement("SELECT pg_try_advisory_lock(hashtext(?), hashtext(?))")) {
                st.setString(1, "backstop:" + cluster.schema());
                st.setString(2, key);
                while (true) {
                    try (ResultSet rs = st.executeQuery()) {
                        rs.next();
                        if (rs.getBoolean(1)) {
                            return c::close;
                        }
                    }
                    if (System.nanoTime() >= deadlineNanos) {
                        throw new BackstopException(ExitCode.BUSY, "another node of the fleet runs a job of target "
                                + target + " (its lock " + key + " is held in the fleet's database); it is left to it");
                    }
                    Thread.sleep(100);
                }
            }
        } catch (SQLException e) {
            closeQuietly(c);
            throw new BackstopException(ExitCode.DATABASE_UNREACHABLE, "cannot lock target " + target + " in the"
                    + " fleet's database " + where + ": " + e.getMessage() + "; a fleet runs no job it cannot lock"
                    + " there", e);
        } catch (InterruptedException e) {
            closeQuietly(c);
            Thread.currentThread().interrupt();
            throw new BackstopException(ExitCode.INTERRUPTED, "interrupted while waiting for the lock of target "
                    + target, e);
        } catch (RuntimeException e) {
            closeQuietly(c);
            throw e;
        }
    }

    private static void closeQuietly(Connection c) {
        try {
            if (c != null) {
                c.close();
            }
        } catch (SQLException ignored) {
            // the lock ends with the connection
        }
    }

    /**
     * Whether this node holds {@code key} now, claiming it when no node does: a part one node of the fleet plays
     * at a time (speaking, streaming one target's WAL), held until this node releases it or its connection to
     * the fleet's database ends, however it ends; then the next node to ask takes it. False when the database
     * cannot be reached: a part nobody can be sure of is played by nobody.
     */
    boolean claim(String key) {
        synchronized (claimed) {
            try {
                long now = System.nanoTime();
                if (claims != null && now - claimsCheckedAt > 1_000_000_000L) {
                    claimsCheckedAt = now;
                    if (!claims.isValid(5)) {
                        log.warn("fleet node {}: lost its connection to the fleet's database, and with it {}",
                                cluster.node(), claimed);
                        closeQuietly(claims);
                        claims = null;
                    }
                }
                if (claims == null) {
                    claimed.clear();
                    claims = DriverManager.getConnection(cluster.jdbcUrl(), ClusterStore.login(cluster));
                    claimsCheckedAt = now;
                }
                if (claimed.contains(key)) {
                    return true;
                }
                try (PreparedStatement st = claims.prepareStatement(
                        "SELECT pg_try_advisory_lock(hashtext(?), hashtext(?))")) {
                    st.setString(1, "backstop-claim:" + cluster.schema());
                    st.setString(2, key);
                    try (ResultSet rs = st.executeQuery()) {
                        rs.next();
                        if (rs.getBoolean(1)) {
                            claimed.add(key);
                            return true;
                        }
                        return false;
                    }
                }
            } catch (SQLException e) {
                closeQuietly(claims);
                claims = null;
                claimed.clear();
                return false;
            }
        }
    }

    /** Gives every claim up (a clean stop: the next node to ask takes them at once). */
    void close() {
        synchronized (claimed) {
            closeQuietly(claims);
            claims = null;
            claimed.clear();
        }
    }
}
