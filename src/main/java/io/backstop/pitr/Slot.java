package io.backstop.pitr;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;

/**
 * The physical replication slot Backstop streams through, as the server sees it: whether it exists,
 * its {@code wal_status} ({@code lost} once the server removed WAL it held: a gap), how much WAL it
 * holds back on the server, and how far the receiver has flushed.
 */
public final class Slot {
    private static final String READ = "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
            + " ELSE pg_current_wal_lsn() END::text, s.wal_status, s.active, s.restart_lsn::text,"
            + " pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END,"
            + " s.restart_lsn)::bigint, r.write_lsn::text, s.slot_type"
            + " FROM (SELECT 1) one LEFT JOIN pg_replication_slots s ON s.slot_name = ?"
            + " LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid";

    private Slot() {
    }

    /**
     * One reading. {@code walStatus} empty: no such slot. {@code receivedLsn}: what the connected receiver
     * reported written (empty when none is connected). {@code retainedBytes}: WAL the slot holds back.
     */
    public record State(long serverLsn, Optional<String> walStatus, boolean active, Optional<Long> restartLsn,
            long retainedBytes, Optional<Long> receivedLsn, String type) {
        public boolean exists() {
            return walStatus.isPresent();
        }

        public boolean lost() {
            return walStatus.map("lost"::equals).orElse(false);
        }
    }

    public static State read(Connection c, String slot) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(READ)) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                String restart = rs.getString(4);
                String flush = rs.getString(6);
                long retained = rs.getLong(5); // 0 when the slot has no restart_lsn (or is not there)
                return new State(Wal.parseLsn(rs.getString(1)), Optional.ofNullable(rs.getString(2)), rs.getBoolean(3),
                        Optional.ofNullable(restart).map(Wal::parseLsn), retained,
                        Optional.ofNullable(flush).map(Wal::parseLsn), rs.getString(7));
            }
        }
    }

    /** Creates the slot, reserving WAL from now on. */
    public static void create(Connection c, String slot) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_create_physical_replication_slot(?, true)")) {
            ps.setString(1, slot);
            ps.execute();
        }
    }

    /** Drops the slot; refuses while a receiver streams through it. Returns whether there was one. */
    public static boolean drop(Connection c, String slot) throws SQLException {
        State s = read(c, slot);
        if (!s.exists()) {
            return false;
        }
        if (!"physical".equals(s.type())) {
            throw new BackstopException(ExitCode.USAGE, "replication slot \"" + slot + "\" is a " + s.type()
                    + " slot, not the physical slot Backstop creates; it was left as it is");
        }
        if (s.active()) {
            throw new BackstopException(ExitCode.USAGE, "replication slot \"" + slot + "\" is in use (a Backstop"
                    + " daemon streams through it): stop the daemon first, then drop the slot");
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
            ps.setString(1, slot);
            ps.execute();
        }
        return true;
    }

    /** The server settings PITR depends on, read once at start and by {@code doctor}. */
    public record Server(String walLevel, long maxSlotWalKeepSizeMb, long segmentSize, int maxWalSenders,
            int walSendersInUse, int maxReplicationSlots, int slotsInUse, boolean replicationRole, int major) {
        public boolean slotUncapped() {
            return maxSlotWalKeepSizeMb < 0;
        }
    }

    public static Server server(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT current_setting('wal_level'),"
                + " (SELECT setting::bigint FROM pg_settings WHERE name = 'max_slot_wal_keep_size'),"
                + " (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'),"
                + " current_setting('max_wal_senders')::int,"
                + " (SELECT count(*) FROM pg_stat_replication)::int,"
                + " current_setting('max_replication_slots')::int,"
                + " (SELECT count(*) FROM pg_replication_slots)::int,"
                + " (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user),"
                + " current_setting('server_version_num')::int / 10000")) {
            rs.next();
            return new Server(rs.getString(1), rs.getLong(2), rs.getLong(3), rs.getInt(4), rs.getInt(5), rs.getInt(6),
                    rs.getInt(7), rs.getBoolean(8), rs.getInt(9));
        }
    }
}
