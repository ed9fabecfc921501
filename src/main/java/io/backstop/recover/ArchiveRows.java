package io.backstop.recover;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.Archive;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import io.backstop.restore.DatabaseProperties;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;

/**
 * Streams one table's rows out of a custom-format archive straight into a {@code COPY ... FROM
 * STDIN} on a live connection: {@code pg_restore --data-only -n SCHEMA -t TABLE --file=-} writes
 * the table's COPY block, which is re-encoded from the archive's encoding to the connection's
 * UTF-8 line by line. Nothing is restored anywhere else; the rows never sit in memory whole.
 */
final class ArchiveRows {
    private static final Pattern COPY = Pattern.compile("^COPY (.+?) \\((.*)\\) FROM stdin;$");
    private static final Pattern CLIENT_ENCODING = Pattern.compile("^SET client_encoding = '([^']+)';$");

    /** What was loaded: the archive's column list (as pg_dump quoted it), how many rows, of how many read. */
    record Loaded(String columns, long rows, long read) {
        /** The columns one by one, as pg_dump quoted them. */
        List<String> columnList() {
            return columnList(columns);
        }

        static List<String> columnList(String columns) {
            return List.of(columns.split(",\\s*"));
        }
    }

    /**
     * Which of the archive's rows go to the COPY, chosen once its column list is known (as pg_dump
     * quoted it, in order). Every row is loaded without one.
     */
    interface Filter {
        RowTest forColumns(List<String> columns);
    }

    /** One row: {@code line[from..to)}, a COPY text line in UTF-8 without its newline. */
    interface RowTest {
        boolean keep(byte[] line, int from, int to);
    }

    private static final Filter ALL = columns -> (line, from, to) -> true;

    private ArchiveRows() {
    }

    /**
     * Loads {@code schema.table}'s rows from {@code archive} into {@code into} (a table with those
     * columns, named as SQL). Empty when the archive holds no data for the table.
     */
    static Optional<Loaded> copy(PgTools tools, Archive reader, Path archive, String schema, String table, Connection c,
            String into, Duration timeout) {
        return copy(tools, reader, archive, schema, table, c, into, timeout, ALL);
    }

    /** As {@link #copy}, loading only the rows {@code filter} keeps. */
    static Optional<Loaded> copy(PgTools tools, Archive reader, Path archive, String schema, String table, Connection c, String into,
            Duration timeout, Filter filter) {
        Loaded[] loaded = new Loaded[1];
        SQLException[] failed = new SQLException[1];
        ProcessRunner.Spec spec = reader.pgRestore(List.of(tools.pgRestore().toString(),
                "--data-only", "--schema=" + schema, "--table=" + table, "--file=-"), archive, Map.of(), timeout)
                .withStdout(in -> {
                    try {
                        loaded[0] = stream(new BufferedInputStream(in, 1 << 16), c, into, filter);
                    } catch (SQLException e) {
                        failed[0] = e;
                        in.transferTo(java.io.OutputStream.nullOutputStream());
                    }
                });
        ProcessRunner.Result r = new ProcessRunner().run(spec, p -> { });
        if (failed[0] != null) {
            throw new BackstopException(ExitCode.DUMP_FAILED, "loading the backup's rows of " + schema + "." + table
                    + " failed: " + failed[0].getMessage(), failed[0]);
        }
        if (r.exitCode() != 0) {
            throw new BackstopException(ExitCode.BAD_BACKUP, "pg_restore cannot read the rows of " + schema + "." + table
                    + " from " + archive + " (exit code " + r.exitCode() + "):\n    " + r.stderrTail());
        }
        return Optional.ofNullable(loaded[0]);
    }

    private static Loaded stream(InputStream in, Connection c, String into, Filter filter)
            throws IOException, SQLException {
        Charset charset = StandardCharsets.UTF_8;
        byte[] line;
        while ((line = readLine(in)) != null) {
            String text = new String(line, StandardCharsets.ISO_8859_1);
            Matcher enc = CLIENT_ENCODING.matcher(text);
            if (enc.matches()) {
                charset = DatabaseProperties.charsetOf(enc.group(1));
                continue;
            }
            Matcher copy = COPY.matcher(new String(line, charset));
            if (!copy.matches()) {
                continue;
            }
            String columns = copy.group(2);
            RowTest test = filter.forColumns(Loaded.columnList(columns));
            CopyIn in2 = c.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY " + into + " (" + columns + ") FROM STDIN");
            long[] counts = new long[2];
            try {
                if (charset == StandardCharsets.UTF_8) {
                    passThrough(in, in2, test, counts);
                } else {
                    while ((line = readLine(in)) != null) {
                        if (line.length == 2 && line[0] == '\\' && line[1] == '.') {
                            break;
                        }
                        byte[] utf8 = new String(line, charset).getBytes(StandardCharsets.UTF_8);
                        counts[1]++;
                        if (test.keep(utf8, 0, utf8.length)) {
                            in2.writeToCopy(utf8, 0, utf8.length);
                            in2.writeToCopy(NEWLINE, 0, 1);
                            counts[0]++;
                        }
                    }
                }
                in2.endCopy();
            } catch (SQLException | IOException | RuntimeException e) {
                if (in2.isActive()) {
                    in2.cancelCopy();
                }
                throw e;
            }
            return new Loaded(columns, counts[0], counts[1]);
        }
        return null;
    }

    private static final byte[] NEWLINE = {'\n'};

    /**
     * UTF-8 rows go to the COPY as they come, in large blocks, up to the terminator line "\\." (a
     * value starting with a backslash is escaped as "\\\\", so only the terminator starts with "\\.").
     * A row the test does not keep ends the block before it. Counts into {@code counts}: {kept, read}.
     */
    private static void passThrough(InputStream in, CopyIn copy, RowTest test, long[] counts)
            throws IOException, SQLException {
        byte[] buf = new byte[1 << 20];
        int have = 0;
        while (true) {
            int n = in.read(buf, have, buf.length - have);
            boolean eof = n < 0;
            if (!eof) {
                have += n;
            }
            int lineStart = 0;
            int block = 0; // start of the kept lines not yet written
            for (int i = 0; i < have; i++) {
                if (i == lineStart && buf[i] == '\\' && i + 1 < have && buf[i + 1] == '.'
                        && (i + 2 == have ? eof : buf[i + 2] == '\n')) {
                    write(copy, buf, block, lineStart);
                    return;
                }
                if (buf[i] == '\n') {
                    counts[1]++;
                    if (test.keep(buf, lineStart, i)) {
                        counts[0]++;
                    } else {
                        write(copy, buf, block, lineStart);
                        block = i + 1;
                    }
                    lineStart = i + 1;
                }
            }
            write(copy, buf, block, lineStart);
            if (eof) {
                return;
            }
            // Keep the partial last line (it may be the terminator's start).
            System.arraycopy(buf, lineStart, buf, 0, have - lineStart);
            have -= lineStart;
            if (have == buf.length) {
                buf = java.util.Arrays.copyOf(buf, buf.length * 2); // one line longer than the buffer
            }
        }
    }

    private static void write(CopyIn copy, byte[] buf, int from, int to) throws SQLException {
        if (to > from) {
            copy.writeToCopy(buf, from, to - from);
        }
    }

    /** One line without its newline; null at the end. COPY text escapes newlines inside values. */
    private static byte[] readLine(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        int b;
        while ((b = in.read()) >= 0) {
            if (b == '\n') {
                return out.toByteArray();
            }
            out.write(b);
        }
        return out.size() == 0 ? null : out.toByteArray();
    }
}
