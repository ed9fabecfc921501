package io.backstop.recover;

import java.io.IOException;
import java.io.OutputStream;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;
import org.postgresql.PGConnection;

/**
 * The integer primary keys a table holds now, as one bit per value between its smallest and its
 * largest: what lets {@code recover --apply} pick the missing rows out of the archive's stream as
 * it passes, instead of loading every backup row and joining it with the table (a hash join of
 * 10M rows against 9M took 8 s on the server, where reading the keys takes 1 s). Serial and
 * identity keys are dense; keys spread wider than {@code maxRange} values are not read here and
 * the caller compares in SQL.
 */
final class LiveKeys {
    private final long min;
    private final long[] bits;

    private LiveKeys(long min, long range) {
        this.min = min;
        this.bits = new long[(int) ((range + 63) >>> 6)];
    }

    /** Reads {@code column} (an integer primary key, quoted) of {@code table} (quoted); empty if too spread. */
    static Optional<LiveKeys> read(Connection c, String table, String column, long maxRange) throws SQLException {
        long lo;
        long hi;
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT min(" + column + "), max(" + column + ") FROM ONLY " + table)) {
            rs.next();
            lo = rs.getLong(1);
            hi = rs.wasNull() ? lo - 1 : rs.getLong(2);
        }
        if (hi >= lo && (hi - lo < 0 || hi - lo >= maxRange)) {
            return Optional.empty();
        }
        LiveKeys keys = new LiveKeys(lo, Math.max(0, hi - lo + 1));
        if (hi >= lo) {
            try (Parser parser = keys.new Parser()) {
                c.unwrap(PGConnection.class).getCopyAPI().copyOut("COPY (SELECT " + column + " FROM ONLY " + table
                        + ") TO STDOUT", parser);
            } catch (IOException e) {
                throw new SQLException("reading the keys of " + table + ": " + e.getMessage(), e);
            }
        }
        return Optional.of(keys);
    }

    /** How many keys there are (a primary key's values are distinct). */
    long size() {
        long n = 0;
        for (long word : bits) {
            n += Long.bitCount(word);
        }
        return n;
    }

    boolean contains(long key) {
        long at = key - min; // unsigned: exact for any key not below min
        if (key < min || Long.compareUnsigned(at, (long) bits.length << 6) >= 0) {
            return false;
        }
        return (bits[(int) (at >>> 6)] & (1L << at)) != 0;
    }

    private void add(long key) {
        long at = key - min;
        bits[(int) (at >>> 6)] |= 1L << at;
    }

    /**
     * Decides, for each row of a COPY text stream, whether its key (the column named {@code column}
     * among {@code columns}, as pg_dump quotes them) is missing here; keeps the first few as samples.
     */
    ArchiveRows.RowTest missing(List<String> columns, String column, Runnable onFirst, List<String> samples,
            int sampleCount) {
        int index = columns.indexOf(column);
        if (index < 0) {
            throw new IllegalArgumentException("the archive's rows have no column " + column + " (they have "
                    + String.join(", ", columns) + ")");
        }
        return (line, from, to) -> {
            int i = from;
            for (int tabs = 0; tabs < index && i < to; i++) {
                if (line[i] == '\t') {
                    tabs++;
                }
            }
            int end = i;
            while (end < to && line[end] != '\t') {
                end++;
            }
            long key = parse(line, i, end);
            if (contains(key)) {
                return false;
            }
            if (samples.isEmpty()) {
                onFirst.run();
            }
            if (samples.size() < sampleCount) {
                samples.add(new String(line, i, end - i, java.nio.charset.StandardCharsets.US_ASCII));
            }
            return true;
        };
    }

    /** A decimal integer as COPY writes it (an optional minus sign, digits). */
    static long parse(byte[] b, int from, int to) {
        boolean negative = from < to && b[from] == '-';
        long v = 0;
        for (int i = negative ? from + 1 : from; i < to; i++) {
            int d = b[i] - '0';
            if (d < 0 || d > 9) {
                throw new NumberFormatException("not an integer key: " + new String(b, from, to - from,
                        java.nio.charset.StandardCharsets.US_ASCII));
            }
            v = v * 10 + d;
        }
        return negative ? -v : v;
    }

    /** The keys as COPY writes them, one per line, straight into the bits. */
    private final class Parser extends OutputStream {
        private long value;
        private boolean negative;

        @Override
        public void write(int b) {
            if (b == '\n') {
                add(negative ? -value : value);
                value = 0;
                negative = false;
            } else if (b == '-') {
                negative = true;
            } else {
                value = value * 10 + (b - '0');
            }
        }

        @Override
        public void write(byte[] b, int off, int len) {
            for (int i = off; i < off + len; i++) {
                write(b[i]);
            }
        }
    }
}
