package io.backstop.pitr;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.backstop.files.Sweep;
import io.backstop.pg.ProcessRunner;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.temporal.ChronoField;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds the commit that made a data-loss alarm's drop, in the archived WAL read with pg_waldump: the
 * transaction that removed an alarmed table's file (DROP TABLE, TRUNCATE, a dropped schema: its commit
 * record lists the files it removes), dropped the database, or else deleted (or, for an UPDATE alarm,
 * updated) the most rows of the alarmed tables, among the commits between the baseline and the alarm.
 * Tables are recognised by the file node the baseline recorded for each ({@code oid:relfilenode}).
 */
public final class Incidents {
    private static final Pattern RECORD = Pattern.compile("^rmgr: (\\w+)\\s.*?tx:\\s+(\\d+), lsn: ([0-9A-F]+/[0-9A-F]+),"
            + ".*?desc: (.*)$");
    private static final Pattern BLOCK_REL = Pattern.compile("blkref #0: rel (\\d+)/(\\d+)/(\\d+)");
    private static final Pattern COMMIT_TIME = Pattern.compile(
            "^COMMIT (\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?) UTC");
    private static final Pattern RELS = Pattern.compile("rels: ([^;]*)");
    private static final Pattern SUBXACTS = Pattern.compile("subxacts: ([\\d ]*)");
    private static final Pattern DROP_DB = Pattern.compile("^DROP dir (\\d+)/(\\d+)|^DROP dbid (\\d+)");
    /** An in-place update of pg_database (a dropped database is marked invalid so, outside any transaction). */
    private static final Pattern INPLACE_PG_DATABASE = Pattern.compile("^INPLACE .*blkref #0: rel \\d+/0/1262 ");
    private static final DateTimeFormatter TIME = new DateTimeFormatterBuilder().appendPattern("yyyy-MM-dd HH:mm:ss")
            .optionalStart().appendFraction(ChronoField.NANO_OF_SECOND, 0, 9, true).optionalEnd().toFormatter();

    /** What the transaction did to one alarmed table: {@code rows} row records (0 where the file went). */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Effect(String table, String what, long rows) {
        String describe() {
            return rows > 0 ? String.format(Locale.ROOT, "%s on %s, %,d rows", what, table, rows)
                    : table.isEmpty() ? what : what + " " + table;
        }
    }

    /**
     * The incident's commit: its transaction, the LSN of its commit record, its time, what it did, and where a
     * replay must stop to see none of it ({@code stopLsn}, exclusive): its commit record, or for a dropped
     * database the first record of the drop (the files go, and the database is marked invalid, before it
     * commits).
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Incident(long xid, String commitLsn, Instant committedAt, List<Effect> effects, String stopLsn) {
        public Incident {
            effects = List.copyOf(effects);
            stopLsn = stopLsn == null ? commitLsn : stopLsn;
        }

        /** "DELETE on public.users, 1,997 rows, xid 123456, 2026-12-06T14:52:07.310Z (commit record at 0/3000060)". */
        public String describe() {
            return String.join("; ", effects.stream().map(Effect::describe).toList()) + ", xid " + xid + ", "
                    + committedAt + " (commit record at " + commitLsn + ")";
        }
    }

    /** One transaction's doings on the watched files, while it runs. */
    private static final class Doings {
        final Map<String, long[]> rows = new LinkedHashMap<>(); // table -> {deletes, updates}
        String firstLsn;
    }

    private Incidents() {
    }

    /** The incident found for the alarm raised at {@code raisedAt}, kept beside the archive for list and /health. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Found(Instant alarmRaisedAt, Incident incident) {
    }

    static final String FILE = "incident.json";

    /** The incident found for the alarm raised at {@code raisedAt}, if one was (and for that alarm). */
    public static Optional<Incident> recorded(Path targetDir, Instant raisedAt, com.fasterxml.jackson.databind.ObjectMapper json) {
        Path f = targetDir.resolve(FILE);
        if (!Files.isRegularFile(f)) {
            return Optional.empty();
        }
        try {
            Found found = json.readValue(f.toFile(), Found.class);
            return raisedAt.equals(found.alarmRaisedAt()) ? Optional.ofNullable(found.incident()) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty(); // found again when asked for
        }
    }

    /** Keeps the incident found for the alarm raised at {@code raisedAt}. */
    public static void record(Path targetDir, Instant raisedAt, Incident incident,
            com.fasterxml.jackson.databind.ObjectMapper json) {
        try {
            io.backstop.files.Durable.writeAtomically(targetDir.resolve(FILE),
                    json.writeValueAsBytes(new Found(raisedAt, incident)));
        } catch (IOException e) {
            throw io.backstop.files.Durable.storageError("cannot write " + targetDir.resolve(FILE), e);
        }
    }

    /**
     * The incident among the commits from {@code fromLsn} (in segments {@code fromSeg} to {@code toSeg}) up
     * to {@code until}: {@code files} maps each alarmed table to its file node, {@code databaseOid} is the
     * database's; {@code updates}: an UPDATE alarm (updated rows count, not deleted ones).
     */
    public static Optional<Incident> find(Path bin, WalArchive archive, long fromLsn, long fromSeg, long toSeg,
            long segmentSize, long databaseOid, Map<String, Long> files, Instant until, boolean updates)
            throws IOException {
        Map<Long, String> tableOf = new HashMap<>();
        files.forEach((table, node) -> tableOf.put(node, table));
        Path view = Files.createTempDirectory("backstop-incident-");
        String start = null;
        try {
            for (long s = fromSeg; s <= toSeg; s++) {
                Optional<Path> f = Segments.segmentFile(archive, s, segmentSize);
                if (f.isPresent()) {
                    Path link = view.resolve(Segments.name(f.get()));
                    Files.createSymbolicLink(link, f.get().toAbsolutePath());
                    start = start == null ? link.getFileName().toString() : start;
                }
            }
            if (start == null) {
                return Optional.empty();
            }
            Scan scan = new Scan(databaseOid, tableOf, until, updates);
            ProcessRunner.Spec spec = ProcessRunner.Spec.of(List.of(bin.resolve("pg_waldump").toString(), "-p",
                    view.toString(), "-s", Wal.lsn(fromLsn)), Map.of("TZ", "UTC"), Duration.ofHours(2))
                    .withStdout(in -> {
                        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                            String line;
                            while ((line = r.readLine()) != null) {
                                scan.line(line);
                            }
                        }
                    });
            // Its exit is 1 where the valid WAL ends inside the newest segment: every record before counts.
            new ProcessRunner().run(spec, p -> { });
            return scan.result();
        } finally {
            Sweep.deleteTree(view);
        }
    }

    /** The reading of pg_waldump's lines, one at a time. */
    private static final class Scan {
        private final long databaseOid;
        private final Map<Long, String> tableOf;
        private final Instant until;
        private final boolean updates;
        private final Map<Long, Doings> running = new HashMap<>();
        private final List<Incident> removedFiles = new ArrayList<>();
        private final List<Incident> rowChanges = new ArrayList<>();
        /** The last in-place update of pg_database since the last commit: where a database drop begins. */
        private String pendingInplace;
        private final Map<Long, String> firstLsn = new HashMap<>();

        Scan(long databaseOid, Map<Long, String> tableOf, Instant until, boolean updates) {
            this.databaseOid = databaseOid;
            this.tableOf = tableOf;
            this.until = until;
            this.updates = updates;
        }

        synchronized void line(String line) {
            Matcher m = RECORD.matcher(line);
            if (!m.find()) {
                return;
            }
            String rmgr = m.group(1);
            long xid = Long.parseLong(m.group(2));
            String desc = m.group(4);
            if ("Heap".equals(rmgr) && INPLACE_PG_DATABASE.matcher(desc + " ").find()) {
                pendingInplace = m.group(3);
            }
            if (xid != 0 && "Database".equals(rmgr)) {
                firstLsn.putIfAbsent(xid, pendingInplace != null ? pendingInplace : m.group(3));
            }
            if ("Heap".equals(rmgr) && (desc.startsWith("DELETE") || desc.startsWith("UPDATE")
                    || desc.startsWith("HOT_UPDATE"))) {
                Matcher b = BLOCK_REL.matcher(desc);
                if (b.find() && Long.parseLong(b.group(2)) == databaseOid) {
                    String table = tableOf.get(Long.parseLong(b.group(3)));
                    if (table != null) {
                        long[] n = running.computeIfAbsent(xid, x -> new Doings()).rows.computeIfAbsent(table,
                                t -> new long[2]);
                        n[desc.startsWith("DELETE") ? 0 : 1]++;
                    }
                }
            } else if ("Database".equals(rmgr)) {
                Matcher d = DROP_DB.matcher(desc);
                if (d.find() && Long.parseLong(d.group(2) != null ? d.group(2) : d.group(3)) == databaseOid) {
                    Doings doings = running.computeIfAbsent(xid, x -> new Doings());
                    doings.rows.put("the database", new long[] {-1, 0});
                    doings.firstLsn = firstLsn.get(xid);
                }
            } else if ("Transaction".equals(rmgr)) {
                Matcher c = COMMIT_TIME.matcher(desc);
                if (c.find()) {
                    commit(xid, m.group(3), LocalDateTime.parse(c.group(1), TIME).toInstant(ZoneOffset.UTC), desc);
                } else if (desc.startsWith("ABORT")) {
                    running.remove(xid);
                    subxacts(desc).forEach(running::remove);
                }
                pendingInplace = null;
                firstLsn.remove(xid);
            }
        }

        private void commit(long xid, String lsn, Instant at, String desc) {
            Doings done = running.remove(xid);
            for (long sub : subxacts(desc)) {
                Doings d = running.remove(sub);
                if (d != null) {
                    done = done == null ? new Doings() : done;
                    for (Map.Entry<String, long[]> e : d.rows.entrySet()) {
                        long[] n = done.rows.computeIfAbsent(e.getKey(), t -> new long[2]);
                        n[0] += e.getValue()[0];
                        n[1] += e.getValue()[1];
                    }
                }
            }
            if (at.isAfter(until)) {
                return;
            }
            List<Effect> removed = new ArrayList<>();
            Matcher r = RELS.matcher(desc);
            if (r.find()) {
                for (String path : r.group(1).trim().split("\\s+")) {
                    String[] parts = path.split("/");
                    if (parts.length >= 3 && parts[parts.length - 2].equals(Long.toString(databaseOid))) {
                        String table = tableOf.get(parseOr(parts[parts.length - 1]));
                        if (table != null) {
                            removed.add(new Effect(table, "dropped or truncated (its file removed):", 0));
                        }
                    }
                }
            }
            String stop = lsn;
            if (done != null && done.rows.containsKey("the database")) {
                removed.add(new Effect("", "the database dropped", 0));
                stop = done.firstLsn != null ? done.firstLsn : lsn;
            }
            if (!removed.isEmpty()) {
                removedFiles.add(new Incident(xid, lsn, at, removed, stop));
                return;
            }
            if (done != null) {
                List<Effect> effects = new ArrayList<>();
                done.rows.forEach((table, n) -> {
                    long rows = updates ? n[1] : n[0];
                    if (rows > 0) {
                        effects.add(new Effect(table, updates ? "UPDATE" : "DELETE", rows));
                    }
                });
                if (!effects.isEmpty()) {
                    rowChanges.add(new Incident(xid, lsn, at, effects, lsn));
                }
            }
        }

        synchronized Optional<Incident> result() {
            if (!removedFiles.isEmpty()) {
                return Optional.of(removedFiles.get(0)); // the first to remove an alarmed table's file
            }
            return rowChanges.stream().max(Comparator.comparingLong((Incident i) -> i.effects().stream()
                    .mapToLong(Effect::rows).sum()).thenComparing(Incident::committedAt, Comparator.reverseOrder()));
        }

        private static long parseOr(String s) {
            try {
                return Long.parseLong(s);
            } catch (NumberFormatException e) {
                return -1;
            }
        }

        private static List<Long> subxacts(String desc) {
            Matcher s = SUBXACTS.matcher(desc);
            List<Long> subs = new ArrayList<>();
            if (s.find()) {
                for (String x : s.group(1).trim().split("\\s+")) {
                    if (!x.isEmpty()) {
                        subs.add(Long.parseLong(x));
                    }
                }
            }
            return subs;
        }
    }
}
