package io.backstop.recover;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.pg.Jdbc;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One named table: what the catalog says of it before anything changes (final), then what loading and
 * comparing its rows found (filled in by {@link RowDiff}, or by the insert straight from the archive).
 */
final class TablePlan {
    final QualifiedName name;
    /** schema.table, quoted by the server. */
    final String quoted;
    /** Whether it exists live (else it is recreated from the backup). */
    final boolean live;
    final List<String> pk;
    final List<String> identityAlways;
    /** One primary key column of type smallint, integer or bigint. */
    final boolean integerKey;

    long backupRows;
    long liveRows;
    List<String> columns = List.of();
    /** The temporary table the backup's rows were loaded into. */
    String temp;
    long missing;
    long changed;
    long onlyLive;
    List<String> missingSamples = List.of();
    List<String> changedSamples = List.of();
    List<String> textOnly;
    /** Why the table's keys are not the backup's any more (then a key both sides hold is a collision). */
    Optional<String> reset = Optional.empty();
    long collisions;
    List<String> collisionSamples = List.of();
    /** What an apply did besides inserting and resetting: keys moved, rows followed. */
    final List<String> notes = new ArrayList<>();

    TablePlan(String quoted, boolean live, long backupRows, List<String> pk, boolean integerKey,
            List<String> identityAlways) {
        this.name = QualifiedName.parse(quoted).orElseThrow();
        this.quoted = quoted;
        this.live = live;
        this.backupRows = backupRows;
        this.pk = List.copyOf(pk);
        this.integerKey = integerKey;
        this.identityAlways = List.copyOf(identityAlways);
    }

    Recover.TableReport report(long inserted, long updated, boolean recreated) {
        return new Recover.TableReport(quoted, live, !pk.isEmpty(), backupRows, liveRows, missing, changed, onlyLive,
                missingSamples, changedSamples, inserted, updated, recreated, reset, collisions, collisionSamples,
                List.copyOf(notes));
    }

    /**
     * What the catalog says of the table {@code typed} names, live or only in the backup. A partitioned
     * table stands for its partitions, each a plan of its own.
     */
    static List<TablePlan> look(Connection c, String typed, Recover.Request request) throws SQLException {
        Optional<String> live = Jdbc.one(c, "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n"
                + " ON n.oid = c.relnamespace WHERE c.oid = to_regclass(?) AND c.relkind IN ('r', 'p')", typed);
        Map<String, Long> counts = request.backup().manifest().rowCounts();
        String quoted;
        if (live.isPresent()) {
            quoted = live.get();
        } else {
            // Gone live: find it in the backup by its name as typed, or by the table name alone.
            String wanted = QualifiedName.parse(typed).map(q -> q.schema() + "." + q.table()).orElse(typed);
            List<String> matches = counts.keySet().stream().filter(k -> QualifiedName.parse(k)
                    .map(q -> (q.schema() + "." + q.table()).equals(wanted)
                            || (!typed.contains(".") && q.table().equals(typed))).orElse(false)).toList();
            if (matches.size() > 1) {
                throw new BackstopException(ExitCode.USAGE, "table \"" + typed + "\" is ambiguous in the backup: "
                        + String.join(", ", matches) + "; name it with its schema");
            }
            if (matches.isEmpty()) {
                // Not counted by that name (a partitioned table is counted by its partitions): the backup's own
                // schema says whether it is there, when its definition is read.
                QualifiedName name = QualifiedName.parse(typed).orElseThrow(() -> new BackstopException(
                        ExitCode.USAGE, "\"" + typed + "\" is not a table name; allowed: schema.table, quoted where"
                        + " needed, e.g. public.\"Users\""));
                return List.of(new TablePlan(name.sql(), false, -1, List.of(), false, List.of()));
            }
            quoted = matches.get(0);
        }
        long backupRows = counts.getOrDefault(quoted, -1L);
        if (live.isEmpty()) {
            return List.of(new TablePlan(quoted, false, backupRows, List.of(), false, List.of()));
        }
        if (Jdbc.one(c, "SELECT relkind::text FROM pg_class WHERE oid = ?::regclass", quoted).orElse("").equals("p")) {
            List<String> partitions = Jdbc.strings(c, """
                    SELECT format('%I.%I', n.nspname, c.relname) FROM pg_partition_tree(?::regclass) t
                      JOIN pg_class c ON c.oid = t.relid JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE t.isleaf AND c.relkind = 'r' ORDER BY 1""", quoted);
            if (partitions.isEmpty()) {
                throw new BackstopException(ExitCode.USAGE, quoted + " is a partitioned table without partitions"
                        + " live: it holds no rows; name the partitions it had (they are gone live)");
            }
            List<TablePlan> plans = new ArrayList<>();
            for (String partition : partitions) {
                plans.add(live(c, partition, counts.getOrDefault(partition, -1L)));
            }
            return plans;
        }
        return List.of(live(c, quoted, backupRows));
    }

    private static TablePlan live(Connection c, String quoted, long backupRows) throws SQLException {
        List<String> pk = Jdbc.strings(c, """
                SELECT quote_ident(a.attname) FROM pg_index i
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                 WHERE i.indrelid = ?::regclass AND i.indisprimary
                 ORDER BY array_position(i.indkey::int2[], a.attnum)""", quoted);
        boolean integerKey = pk.size() == 1 && Jdbc.strings(c, """
                SELECT t.typname FROM pg_index i
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  JOIN pg_type t ON t.oid = a.atttypid
                 WHERE i.indrelid = ?::regclass AND i.indisprimary""", quoted).stream()
                .anyMatch(type -> type.equals("int2") || type.equals("int4") || type.equals("int8"));
        List<String> identityAlways = Jdbc.strings(c, "SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid ="
                + " ?::regclass AND attidentity = 'a' AND NOT attisdropped", quoted);
        return new TablePlan(quoted, true, backupRows, pk, integerKey, identityAlways);
    }

    /** Parents (referenced tables) before children, among the tables being recovered. */
    static void orderParentsFirst(Connection c, List<TablePlan> plans) throws SQLException {
        Map<String, List<String>> parents = new LinkedHashMap<>();
        for (TablePlan p : plans) {
            parents.put(p.quoted, p.live ? Jdbc.strings(c, "SELECT DISTINCT format('%I.%I', n.nspname, r.relname) FROM"
                    + " pg_constraint k JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace n ON n.oid = r.relnamespace"
                    + " WHERE k.contype = 'f' AND k.conrelid = ?::regclass AND k.confrelid <> k.conrelid", p.quoted)
                    : List.of());
        }
        List<TablePlan> ordered = ordered(plans, parents);
        plans.clear();
        plans.addAll(ordered);
    }

    /**
     * {@code plans} with each table after the tables among them it references ({@code parents}: table → the
     * tables its foreign keys point at), and the tables to recreate first. Pure.
     */
    static List<TablePlan> ordered(List<TablePlan> plans, Map<String, List<String>> parents) {
        List<TablePlan> ordered = new ArrayList<>();
        List<TablePlan> left = new ArrayList<>(plans);
        while (!left.isEmpty()) {
            TablePlan next = left.stream().filter(p -> parents.getOrDefault(p.quoted, List.of()).stream()
                    .noneMatch(parent -> left.stream().anyMatch(o -> o.quoted.equals(parent)))).findFirst()
                    .orElse(left.get(0)); // a cycle: the foreign keys check at the end of each statement anyway
            ordered.add(next);
            left.remove(next);
        }
        // Tables to recreate first: children being filled may reference them.
        ordered.sort((a, b) -> Boolean.compare(a.live, b.live));
        return ordered;
    }
}
