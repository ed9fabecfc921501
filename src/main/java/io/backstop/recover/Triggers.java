package io.backstop.recover;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.pg.Jdbc;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the application's triggers from firing on the rows an apply writes, as {@code pg_restore
 * --disable-triggers} does: the rows are the backup's values, and a {@code last_update} trigger
 * would stamp them with the time of the recover instead.
 *
 * <p>Where the login may set {@code session_replication_role} (a superuser, or {@code GRANT SET ON
 * PARAMETER} on PostgreSQL 15 and newer), the apply's transaction runs as a replica ({@code SET
 * LOCAL}: no other session is affected, and it ends with the transaction): no ordinary trigger
 * fires, foreign keys included, so {@link ForeignKeys} checks them explicitly before the commit.
 * Triggers marked {@code ENABLE ALWAYS} or {@code ENABLE REPLICA} fire even then: those, and every
 * user trigger where the role may not act as a replica, are disabled by name on their tables inside
 * the transaction ({@code ALTER TABLE … DISABLE TRIGGER}, as the tables' owner) and enabled again as
 * they were before the commit, so no other session ever sees them off. That takes the tables' ACCESS
 * EXCLUSIVE lock until the commit: the safety backup (whose pg_dump takes ACCESS SHARE) is awaited
 * first, or the two would wait on each other.
 */
final class Triggers {
    private static final Logger log = LoggerFactory.getLogger(Triggers.class);

    /** One trigger to disable by name, and how it was enabled ('O' origin, 'A' always, 'R' replica). */
    private record Trigger(String table, String name, String enabled) {
        String enable() {
            return "ALTER TABLE " + table + " ENABLE " + switch (enabled) {
                case "A" -> "ALWAYS ";
                case "R" -> "REPLICA ";
                default -> "";
            } + "TRIGGER " + name;
        }
    }

    private final boolean replica;
    private final List<Trigger> toDisable;
    private final List<Trigger> disabled = new ArrayList<>();

    private Triggers(boolean replica, List<Trigger> toDisable) {
        this.replica = replica;
        this.toDisable = toDisable;
    }

    /**
     * Sets the transaction's replication role to replica where the login may, and finds the triggers
     * of {@code tables} that would fire anyway. Writes nothing; call before the first write.
     */
    static Triggers prepare(Connection c, Collection<String> tables) throws SQLException {
        boolean replica;
        Savepoint sp = c.setSavepoint();
        try {
            Jdbc.execute(c, "SET LOCAL session_replication_role = replica");
            c.releaseSavepoint(sp);
            replica = true;
        } catch (SQLException e) {
            if (!"42501".equals(e.getSQLState())) {
                throw e;
            }
            c.rollback(sp);
            replica = false;
        }
        return new Triggers(replica, firing(c, tables, replica));
    }

    /** Whether foreign keys go unchecked by the server while the apply writes (then {@link ForeignKeys} checks). */
    boolean replica() {
        return replica;
    }

    /** Whether disabling triggers by name must wait for the safety backup. */
    boolean needsLocks() {
        return !toDisable.isEmpty();
    }

    /** Disables the triggers that would fire; the safety backup must be finished (its locks released). */
    void disable(Connection c) throws SQLException {
        for (Trigger t : toDisable) {
            try {
                Jdbc.execute(c, "ALTER TABLE " + t.table() + " DISABLE TRIGGER " + t.name());
            } catch (SQLException e) {
                if ("42501".equals(e.getSQLState())) {
                    throw cannotDisable(e);
                }
                throw e;
            }
            disabled.add(t);
        }
        if (!toDisable.isEmpty()) {
            log.info("recover: triggers disabled inside the transaction: {}", String.join(", ",
                    toDisable.stream().map(t -> t.table() + "." + t.name()).toList()));
        }
    }

    /** A table the apply created: its triggers that would fire are disabled before its rows are loaded. */
    void disableOnCreated(Connection c, String table) throws SQLException {
        for (Trigger t : firing(c, List.of(table), replica)) {
            Jdbc.execute(c, "ALTER TABLE " + t.table() + " DISABLE TRIGGER " + t.name());
            disabled.add(t);
        }
    }

    /** Enables what {@link #disable} turned off, as it was; before the commit. */
    void restore(Connection c) throws SQLException {
        for (Trigger t : disabled) {
            Jdbc.execute(c, t.enable());
        }
        disabled.clear();
    }

    private static List<Trigger> firing(Connection c, Collection<String> tables, boolean replica) throws SQLException {
        List<Trigger> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT format('%I.%I', n.nspname, r.relname), quote_ident(t.tgname), t.tgenabled::text
                  FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
                 WHERE t.tgrelid = ?::regclass AND NOT t.tgisinternal
                   AND t.tgenabled <> 'D' AND (NOT ? OR t.tgenabled IN ('A', 'R'))
                 ORDER BY 2""")) {
            for (String table : tables) {
                ps.setString(1, table);
                ps.setBoolean(2, replica);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(new Trigger(rs.getString(1), rs.getString(2), rs.getString(3)));
                    }
                }
            }
        }
        return out;
    }

    /** Why a trigger could not be disabled: the login does not own the table and may not act as a replica. */
    private static BackstopException cannotDisable(SQLException e) {
        return new BackstopException(ExitCode.USAGE, "recover writes the backup's values without firing the"
                + " tables' triggers, and this login can neither act as a replica nor disable them (" + e.getMessage()
                + "); allowed: a superuser, GRANT SET ON PARAMETER session_replication_role TO the login"
                + " (PostgreSQL 15+), or the tables' owner", e);
    }
}
