package io.backstop.recover;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.Archive;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import io.backstop.restore.ArchiveToc;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Large objects the backup holds and the database no longer does, put back under their own OIDs
 * (rows that point at them by OID point at them again). The archive's large-object data entries are
 * (the TOC's BLOBS entries) read with {@code pg_restore -L} (only those) as the SQL pg_restore would run: each object
 * is a {@code lo_open('OID')} followed by {@code lowrite} chunks; an object missing live is created
 * with {@code lo_create(OID)} and its chunks written with {@code lo_put}, in the apply's transaction.
 * Objects that exist live are never touched.
 */
final class LargeObjects {
    private static final Pattern OPEN = Pattern.compile("^SELECT pg_catalog\\.lo_open\\('(\\d+)', \\d+\\);$");
    private static final Pattern WRITE = Pattern.compile("^SELECT pg_catalog\\.lowrite\\(0, E?'\\\\{1,2}x([0-9a-fA-F]*)'\\);$");
    private static final int SAMPLES = 5;

    private LargeObjects() {
    }

    /** Compares (and with {@code write}, puts back) the large objects of {@code archive}. */
    static Recover.LargeObjectsReport run(Connection c, PgTools tools, Archive reader, Path archive, Duration timeout, boolean write)
            throws SQLException {
        Set<Long> live = new HashSet<>();
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT oid::bigint FROM pg_catalog.pg_largeobject_metadata")) {
            while (rs.next()) {
                live.add(rs.getLong(1));
            }
        }
        List<ArchiveToc.Entry> entries = ArchiveToc.read(tools, reader, archive, timeout).ofType("BLOBS");
        if (entries.isEmpty()) {
            return new Recover.LargeObjectsReport(0, live.size(), 0, List.of(), 0, 0);
        }
        long[] seen = new long[4]; // in backup, missing, restored, bytes
        List<Long> samples = new ArrayList<>();
        SQLException[] failed = new SQLException[1];
        ProcessRunner.Result r = ArchiveToc.restoreOnly(tools, reader, archive, entries, List.of("--file=-"), timeout,
                in -> {
                    BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
                    try (PreparedStatement create = c.prepareStatement("SELECT pg_catalog.lo_create(?)");
                            PreparedStatement put = c.prepareStatement("SELECT pg_catalog.lo_put(?, ?, ?)")) {
                        long current = -1;
                        long offset = 0;
                        String line;
                        while ((line = lines.readLine()) != null) {
                            Matcher open = OPEN.matcher(line);
                            if (open.matches()) {
                                long oid = Long.parseLong(open.group(1));
                                seen[0]++;
                                current = live.contains(oid) ? -1 : oid;
                                offset = 0;
                                if (current >= 0) {
                                    seen[1]++;
                                    if (samples.size() < SAMPLES) {
                                        samples.add(oid);
                                    }
                                    if (write) {
                                        create.setLong(1, oid);
                                        create.executeQuery().close();
                                        seen[2]++;
                                    }
                                }
                                continue;
                            }
                            Matcher chunk = WRITE.matcher(line);
                            if (chunk.matches() && current >= 0 && write) {
                                byte[] bytes = HexFormat.of().parseHex(chunk.group(1));
                                put.setLong(1, current);
                                put.setLong(2, offset);
                                put.setBytes(3, bytes);
                                put.executeQuery().close();
                                offset += bytes.length;
                                seen[3] += bytes.length;
                            }
                        }
                    } catch (SQLException e) {
                        failed[0] = e;
                        in.transferTo(java.io.OutputStream.nullOutputStream());
                    }
                });
        if (failed[0] != null) {
            throw failed[0];
        }
        if (r.exitCode() != 0) {
            throw new BackstopException(ExitCode.BAD_BACKUP, "pg_restore cannot read the large objects of "
                    + archive.getFileName() + " (exit code " + r.exitCode() + "):\n    " + r.stderrTail());
        }
        return new Recover.LargeObjectsReport(seen[0], live.size(), seen[1], List.copyOf(samples), seen[2], seen[3]);
    }

    /** Whether any of {@code tables} has a column that holds large-object OIDs (type oid, or the lo domain). */
    static boolean referencedBy(Connection c, List<String> tables) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                SELECT 1 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                 WHERE a.attrelid = ?::regclass AND a.attnum > 0 AND NOT a.attisdropped
                   AND (t.typname = 'oid' OR (t.typname = 'lo' AND t.typbasetype = 'oid'::regtype)) LIMIT 1""")) {
            for (String table : tables) {
                ps.setString(1, table);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        return true;
                    }
                }
            }
        }
        return false;
    }
}
