package io.backstop.pitr;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;

/** A target's WAL archive as the PITR tests read it: its base backups, a segment forced out, pg_waldump over it. */
final class Archives {
    private static final long SEGMENT = 16L << 20;

    private Archives() {
    }

    /** The base backups kept in {@code targetDir}, oldest first. */
    static List<BaseBackups.Base> bases(Path targetDir) {
        return new BaseBackups(targetDir, null, new io.backstop.catalog.Manifests().json(),
                java.time.Clock.systemUTC()).list();
    }

    /** Forces the current segment out and waits until the archive has recorded it; returns the switch LSN. */
    static long switchAndAwait(PgCluster pg, String db, Path targetDir, Duration wait) throws Exception {
        long lsn;
        try (Connection c = pg.connect(db); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT pg_logical_emit_message(false, 'test', 'x'),"
                        + " pg_switch_wal()::text")) {
            rs.next();
            lsn = Wal.parseLsn(rs.getString(2)); // just past the switch record, in the segment it completed
        }
        long segno = Wal.segnoOf(lsn - 1, SEGMENT);
        try {
            Fixtures.await("segment " + segno + " archived", wait, () -> {
                try {
                    return new WalArchive(targetDir).entries().stream().filter(WalArchive.Entry::isSegment)
                            .anyMatch(e -> Wal.segno(e.name(), SEGMENT) >= segno);
                } catch (java.io.IOException e) {
                    return false;
                }
            });
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; archive: " + Fixtures.files(targetDir.resolve("wal")), e);
        }
        return lsn;
    }

    /** pg_waldump reads every record of the archive from the oldest base backup's start to {@code end}: "" when whole. */
    static String walDump(PgCluster pg, Path targetDir, long end) throws Exception {
        List<BaseBackups.Base> bases = bases(targetDir);
        assertThat(bases).isNotEmpty();
        Process p = new ProcessBuilder(pg.bin().resolve("pg_waldump").toString(), "--quiet", "-p",
                targetDir.resolve("wal").toString(), "-s", bases.get(0).startLsn(), "-e", Wal.lsn(end))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return p.waitFor() == 0 ? "" : out.isBlank() ? "pg_waldump failed" : out;
    }
}
