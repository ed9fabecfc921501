package io.backstop.recover;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.http.LiveDaemon;
import io.backstop.pg.LocalCluster;
import io.backstop.pitr.WalArchive;
import io.backstop.testing.Cli;
import io.backstop.testing.Fixtures;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restore and recover to any point of the WAL archive, against a real server with the daemon streaming.
 * The test keeps its own log of what it committed when (each commit's own timestamp, from
 * track_commit_timestamp) and checks every result row by row against the state that log gives for the
 * point: restore --at random moments, exclusive and --inclusive at a commit's exact time, --physical
 * started on the local binaries, recover --at after a DELETE without WHERE with writes after it; a point
 * outside the window is refused with the window; a replay that needs a missing segment is refused naming it.
 */
class PointInTimeIT {
    private static final Duration WAIT = Duration.ofSeconds(180);

    @TempDir
    Path dir;

    private PgCluster pg;

    /** One byte of {@code file}, in its middle, inverted (twice: as it was). */
    private static void flipByte(Path file) throws java.io.IOException {
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            long at = f.length() / 2;
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0xff);
        }
    }

    @AfterEach
    void stopServer() {
        if (pg != null) {
            pg.close();
        }
    }

    /** What the test committed: each row id with its commit's time, and when the DELETE of everything committed. */
    private final TreeMap<Long, Instant> inserted = new TreeMap<>();
    private Instant deletedAt;
    private final List<Instant> commits = new ArrayList<>();

    private void insert(Connection c, int n) throws SQLException {
        for (int i = 0; i < n; i++) {
            try (Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("INSERT INTO orders (note) VALUES ('order ' || md5(random()::text))"
                            + " RETURNING id")) {
                rs.next();
                long id = rs.getLong(1);
                c.commit();
                Instant at = commitTime(c, "SELECT pg_xact_commit_timestamp(xmin) FROM orders WHERE id = " + id);
                inserted.put(id, at);
                commits.add(at);
            }
        }
    }

    private static Instant commitTime(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            Instant at = rs.getObject(1, OffsetDateTime.class).toInstant();
            c.commit();
            return at;
        }
    }

    /** The ids the log says were there at {@code t}: committed before it (or at it, inclusive), unless deleted by then. */
    private TreeSet<Long> expectedAt(Instant t, boolean inclusive) {
        TreeSet<Long> ids = new TreeSet<>();
        boolean deleted = deletedAt != null && (deletedAt.isBefore(t) || (inclusive && deletedAt.equals(t)));
        inserted.forEach((id, at) -> {
            boolean committed = at.isBefore(t) || (inclusive && at.equals(t));
            boolean goneByDelete = deleted && at.isBefore(deletedAt);
            if (committed && !goneByDelete) {
                ids.add(id);
            }
        });
        return ids;
    }

    private static TreeSet<Long> ids(PgCluster pg, String db) throws SQLException {
        TreeSet<Long> ids = new TreeSet<>();
        try (Connection c = pg.connect(db); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT id FROM orders")) {
            while (rs.next()) {
                ids.add(rs.getLong(1));
            }
        }
        return ids;
    }

    private static long flushed(PgCluster pg, String db) throws SQLException {
        try (Connection c = pg.connect(db); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT coalesce(bool_and(flush_lsn >= pg_current_wal_lsn()), false)"
                        + " FROM pg_stat_replication")) {
            rs.next();
            return rs.getBoolean(1) ? 1 : 0;
        }
    }

    @Test
    void restoreAndRecoverToAnyPointEqualTheStateTheTestRecorded() throws Exception {
        pg = PgCluster.startReplicating(Map.of("track_commit_timestamp", "on"));
        String db = pg.createDatabase("pointintime");
        pg.execute(db, "CREATE TABLE orders (id bigserial PRIMARY KEY, note text NOT NULL)");
        Map<String, String> env = LiveDaemon.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_SCHEDULE", "0 0 0 1 1 ?");
        env.put("BACKSTOP_RESTORE_DRILL_EVERY", "0");
        env.put("BACKSTOP_PITR", "true");
        try (LiveDaemon d = new LiveDaemon(env); Connection c = pg.connect(db)) {
            c.setAutoCommit(false);
            Fixtures.await("a recoverable window", WAIT, () -> java.util.regex.Pattern.compile(
                    "(?m)^backstop_pitr_window_start_timestamp_seconds\\{target=\"app\"} [1-9]")
                    .matcher(d.get("/metrics").body()).find());
            insert(c, 120);
            Cli.Result backup = Cli.run(env, "backup");
            assertThat(backup.status()).as(backup.all()).isZero();
            insert(c, 80); // after the last dump: only the WAL has these
            try (Statement st = c.createStatement()) {
                st.executeUpdate("DELETE FROM orders");
                long xid;
                try (ResultSet rs = st.executeQuery("SELECT txid_current()")) {
                    rs.next();
                    xid = rs.getLong(1);
                }
                c.commit();
                deletedAt = commitTime(c, "SELECT pg_xact_commit_timestamp('" + xid + "'::text::xid)");
                commits.add(deletedAt);
            }
            insert(c, 60); // the application goes on writing after the incident
            Fixtures.await("the server's WAL received", WAIT, () -> {
                try {
                    return flushed(pg, db) == 1;
                } catch (SQLException e) {
                    return false;
                }
            });

            // Five random moments between the first and the last commit, each equal to the recorded state.
            Random random = new Random(7);
            Instant first = commits.get(0);
            Instant last = commits.get(commits.size() - 1);
            for (int i = 0; i < 5; i++) {
                Instant t = first.plusNanos((long) (random.nextDouble() * Duration.between(first, last).toNanos()))
                        .truncatedTo(java.time.temporal.ChronoUnit.MICROS);
                String into = "at_random_" + i;
                Cli.Result r = Cli.run(env, "restore", "--at", t.toString(), "--into", into, "--yes");
                assertThat(r.status()).as(r.all()).isZero();
                assertThat(r.out()).contains("replaying base backup", "restore app:");
                assertThat(ids(pg, into)).as("restore --at " + t).isEqualTo(expectedAt(t, false));
            }

            // A commit's exact time: exclusive (the default) stops before it, --inclusive after it.
            Instant exact = inserted.get(inserted.firstKey() + 150);
            Cli.Result before = Cli.run(env, "restore", "--at", exact.toString(), "--into", "at_exact", "--yes");
            assertThat(before.status()).as(before.all()).isZero();
            assertThat(ids(pg, "at_exact")).isEqualTo(expectedAt(exact, false))
                    .doesNotContain(inserted.firstKey() + 150);
            Cli.Result through = Cli.run(env, "restore", "--at", exact.toString(), "--inclusive", "--into",
                    "at_inclusive", "--yes");
            assertThat(through.status()).as(through.all()).isZero();
            assertThat(ids(pg, "at_inclusive")).isEqualTo(expectedAt(exact, true)).contains(inserted.firstKey() + 150);

            // The undo: every row committed before the DELETE is back, including those only the WAL had; every
            // row written after it is kept; nothing else changes.
            TreeSet<Long> liveBefore = ids(pg, db);
            Cli.Result recover = Cli.run(env, "recover", "public.orders", "--at", deletedAt.toString(), "--apply",
                    "--yes");
            assertThat(recover.status()).as(recover.all()).isZero();
            TreeSet<Long> want = new TreeSet<>(expectedAt(deletedAt, false));
            want.addAll(liveBefore);
            assertThat(ids(pg, db)).isEqualTo(want).hasSize(260);

            // A data directory for the host-is-lost case, started on the local binaries.
            // (under the temp directory: the server's user must reach it, and JUnit's own is private)
            Path physical = LocalCluster.newDirectory(Path.of(System.getProperty("java.io.tmpdir")));
            Cli.Result phys = Cli.run(env, "restore", "--at", exact.toString(), "--physical",
                    physical.resolve("data").toString());
            assertThat(phys.status()).as(phys.all()).isZero();
            assertThat(phys.out()).contains("written to", "Start a PostgreSQL 15 server");
            // Started as the old server ran (its replication settings; a replay needs at least the primary's).
            try (LocalCluster started = LocalCluster.recover(PgCluster.binDir(), physical, Map.of("wal_level", "replica",
                    "max_wal_senders", "10", "max_replication_slots", "10"), Duration.ofMinutes(3))) {
                Fixtures.await("the physical copy promoted", WAIT, () -> {
                    try (Connection pc = java.sql.DriverManager.getConnection("jdbc:postgresql://" + started.host() + ":"
                            + started.port() + "/" + db, PgCluster.SUPERUSER, pg.password());
                            Statement st = pc.createStatement(); ResultSet rs = st.executeQuery("SELECT NOT pg_is_in_recovery()")) {
                        rs.next();
                        return rs.getBoolean(1);
                    } catch (SQLException e) {
                        return false;
                    }
                });
                TreeSet<Long> there = new TreeSet<>();
                try (Connection pc = java.sql.DriverManager.getConnection("jdbc:postgresql://" + started.host() + ":"
                        + started.port() + "/" + db, PgCluster.SUPERUSER, pg.password());
                        Statement st = pc.createStatement(); ResultSet rs = st.executeQuery("SELECT id FROM orders")) {
                    while (rs.next()) {
                        there.add(rs.getLong(1));
                    }
                }
                assertThat(there).isEqualTo(expectedAt(exact, false));
                // PostgreSQL 15 paused at the point and found the trigger file: promoted without waiting for the
                // end-of-recovery checkpoint, which follows in the background
                assertThat(started.log()).contains("promote trigger file found")
                        .doesNotContain("checkpoint starting: end-of-recovery");
                assertThat(physical.resolve("data").resolve("backstop.promote")).doesNotExist();
            }

            // A stored base backup damaged since it was taken (one byte of its largest file, the size unchanged):
            // refused with the code of a corrupt backup, naming it and the file, the directory left empty.
            List<Path> damaged = new ArrayList<>();
            try (var bases = Files.list(dir.resolve("backups").resolve("app").resolve("base"))) {
                for (Path base : bases.filter(Files::isDirectory).toList()) {
                    Path largest = Fixtures.files(base.resolve("base")).stream()
                            .max(java.util.Comparator.comparingLong(f -> f.toFile().length())).orElseThrow();
                    flipByte(largest);
                    damaged.add(largest);
                }
            }
            Path refused = LocalCluster.newDirectory(Path.of(System.getProperty("java.io.tmpdir")));
            Cli.Result bad = Cli.run(env, "restore", "--at", exact.toString(), "--physical",
                    refused.resolve("data").toString());
            assertThat(bad.status()).as(bad.all()).isEqualTo(8);
            assertThat(bad.all()).contains("does not match its manifest", "checksum mismatch")
                    .doesNotContain("the copy of base backup");
            assertThat(damaged).as(bad.all()).anyMatch(f -> bad.all().contains("base/" + f.getParent().getFileName()
                    + "/" + f.getFileName()));
            try (var left = Files.list(refused.resolve("data"))) {
                assertThat(left.toList()).isEmpty();
            }
            for (Path f : damaged) {
                flipByte(f);
            }

            // A directory that is not empty (the lost server's own volume, say) is refused and left as it was.
            Path occupied = dir.resolve("occupied");
            Files.createDirectories(occupied.resolve("data"));
            Files.writeString(occupied.resolve("data").resolve("PG_VERSION"), "15\n");
            Cli.Result notEmpty = Cli.run(env, "restore", "--at", exact.toString(), "--physical",
                    occupied.resolve("data").toString());
            assertThat(notEmpty.status()).as(notEmpty.all()).isEqualTo(2);
            assertThat(notEmpty.all()).contains("is not empty", "nothing was written there");
            assertThat(occupied.resolve("data").resolve("PG_VERSION")).hasContent("15");
            try (var kept = Files.list(occupied.resolve("data"))) {
                assertThat(kept.toList()).hasSize(1);
            }

            // Outside the window: refused, with the window.
            Cli.Result early = Cli.run(env, "restore", "--at", "2001-01-01T00:00:00Z", "--into", "too_early", "--yes");
            assertThat(early.status()).as(early.all()).isEqualTo(2);
            assertThat(early.all()).contains("no base backup of app ends before", "recoverable:");
            Cli.Result late = Cli.run(env, "restore", "--at", "2999-01-01T00:00:00Z", "--into", "too_late", "--yes");
            assertThat(late.status()).as(late.all()).isEqualTo(2);
            assertThat(late.all()).contains("is after the newest WAL", "recoverable:");

            // A segment the replay needs is gone: refused, naming it.
            WalArchive archive = new WalArchive(dir.resolve("backups").resolve("app"));
            String victim = archive.entries().stream().filter(e -> io.backstop.pitr.Wal.isSegment(e.name())).reduce((a, b) -> b)
                    .orElseThrow().name();
            Files.delete(archive.dir().resolve(victim));
            Cli.Result missing = Cli.run(env, "restore", "--at", last.toString(), "--into", "at_missing", "--yes");
            assertThat(missing.status()).as(missing.all()).isEqualTo(8);
            assertThat(missing.all()).contains(victim, "needs WAL the archive cannot give");
            // The same with --physical: the base backup's copy, begun before the WAL was planned, is stopped and
            // the directory left empty.
            Path unwritten = dir.resolve("unwritten");
            Cli.Result physicalMissing = Cli.run(env, "restore", "--at", last.toString(), "--physical",
                    unwritten.resolve("data").toString());
            assertThat(physicalMissing.status()).as(physicalMissing.all()).isEqualTo(8);
            assertThat(physicalMissing.all()).contains(victim, "needs WAL the archive cannot give");
            try (var left = Files.list(unwritten.resolve("data"))) {
                assertThat(left.toList()).isEmpty();
            }
        }
    }
}
