package io.backstop.recover;

import io.backstop.catalog.Manifest;
import io.backstop.catalog.ServerInfo;
import io.backstop.pg.Jdbc;
import io.backstop.pg.SnapshotFacts;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Which live rows were there when the backup was taken, and which were written since. In the same
 * database of the same cluster, a live row was there when its {@code xmin} is visible to the dump's
 * snapshot (recorded in the manifest), or was written by one of recover's own applies; every other
 * row was written (inserted or updated) since. In another cluster (the system identifier changed:
 * the volume was recreated) or another database (its OID changed: dropped and created again), every
 * live row was written since.
 *
 * <p>A table was <b>reset</b> since the backup when it is not the backup's table any more (another
 * OID: dropped and created again; the whole database replaced), or when its file was replaced (a
 * TRUNCATE, {@code prisma db push --force-reset}) and none of its live rows was there. Keys of a
 * reset table mean nothing across the reset: a key both sides hold with different rows is a
 * <b>collision</b> of two rows (the application's new row took an old row's id), never an update.
 * In a table that was not reset the same key with other values is the same row, changed.
 */
final class Provenance {
    private static final Pattern SNAPSHOT = Pattern.compile("\\d+:\\d+:[\\d,]*");
    private static final long XID_SPACE = 1L << 32;

    private final Optional<String> snapshot;
    private final boolean otherDatabase;
    private final String why;
    private final SnapshotFacts facts;
    /** The next full transaction id now: a 32-bit xmin is placed in the epoch by its distance from it. */
    private final long next;
    private final List<Long> recovered;

    private Provenance(Optional<String> snapshot, boolean otherDatabase, String why, SnapshotFacts facts, long next,
            List<Long> recovered) {
        this.snapshot = snapshot;
        this.otherDatabase = otherDatabase;
        this.why = why;
        this.facts = facts;
        this.next = next;
        this.recovered = recovered;
    }

    /** What the backup's manifest and the live database say; {@code recovered}: recover's own applies' xids. */
    static Provenance of(Connection c, Manifest m, List<Long> recovered) throws SQLException {
        ServerInfo live = ServerInfo.read(c);
        String why = null;
        if (m.systemIdentifier() != null && live.systemIdentifier() != null
                && !Objects.equals(m.systemIdentifier(), live.systemIdentifier())) {
            why = "the cluster is another (system identifier " + live.systemIdentifier() + ", was "
                    + m.systemIdentifier() + ")";
        } else if (m.databaseOid() != 0 && m.databaseOid() != live.databaseOid()) {
            why = "the database was created again (OID " + live.databaseOid() + ", was " + m.databaseOid() + ")";
        }
        SnapshotFacts facts = m.facts();
        Optional<String> snapshot = Optional.ofNullable(facts.snapshot()).filter(s -> SNAPSHOT.matcher(s).matches());
        long next = Jdbc.number(c, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint");
        return new Provenance(snapshot, why != null, why, facts, next, List.copyOf(recovered));
    }

    /**
     * SQL true when the live row {@code alias} was there at the backup (or put back by recover). Where
     * the backup cannot say, every live row counts as there: the comparison Backstop made before it knew.
     */
    String wasThere(String alias) {
        if (otherDatabase) {
            return "false";
        }
        if (snapshot.isEmpty()) {
            return "true";
        }
        String xmin = alias + ".xmin::text::bigint";
        // How far back from the next xid this row's xmin is; half the xid space or more is frozen history.
        String age = "((" + (next % XID_SPACE) + " - " + xmin + " + " + XID_SPACE + ") % " + XID_SPACE + ")";
        String ours = recovered.isEmpty() ? "" : " OR " + xmin + " IN (" + recovered.stream()
                .map(x -> Long.toString(x % XID_SPACE)).collect(Collectors.joining(", ")) + ")";
        return "(" + xmin + " < 3 OR " + age + " >= " + (XID_SPACE / 2) + " OR pg_visible_in_snapshot(("
                + next + " - " + age + ")::text::xid8, '" + snapshot.get() + "'::pg_snapshot)" + ours + ")";
    }

    /** Why {@code p}'s keys are not the backup's keys any more; empty when the table was not reset. */
    Optional<String> reset(Connection c, TablePlan p) throws SQLException {
        if (otherDatabase) {
            return Optional.of(why);
        }
        String file = facts.tableFiles().get(p.quoted);
        if (file == null || snapshot.isEmpty()) {
            return Optional.empty();
        }
        String now = SnapshotFacts.tableFiles(c, List.of(p.quoted)).get(p.quoted);
        if (now == null || now.equals(file)) {
            return Optional.empty();
        }
        if (SnapshotFacts.oidOf(now) != SnapshotFacts.oidOf(file)) {
            return Optional.of(p.quoted + " was dropped and created again (OID " + SnapshotFacts.oidOf(now) + ", was "
                    + SnapshotFacts.oidOf(file) + ")");
        }
        if (Jdbc.number(c, "SELECT count(*) FROM (SELECT 1 FROM ONLY "
                + p.quoted + " l WHERE " + wasThere("l") + " LIMIT 1) x") == 0) {
            return Optional.of(p.quoted + " was truncated and every row in it was written since the backup");
        }
        return Optional.empty();
    }
}
