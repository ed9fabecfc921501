package io.backstop.verify;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.Manifest;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.files.Sizes;
import io.backstop.files.Sweep;
import io.backstop.pg.Database;
import io.backstop.pg.LocalCluster;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import io.backstop.pitr.Replay;
import io.backstop.pitr.Segments;
import io.backstop.pitr.Wal;
import io.backstop.pitr.WalArchive;
import io.backstop.restore.PgRestore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PITR drill: proves that the WAL archive reproduces a known state. The base backup before a
 * dump's WAL position is copied into a throwaway cluster (local server binaries of the server's
 * major version), the archived WAL replayed to exactly the dump's snapshot, and every table counted
 * against that dump's manifest. "Exactly": the manifest holds the snapshot (xmin:xmax:xip) and the
 * WAL insert position read right after it; the commit records just before that position are read
 * with pg_waldump, and the replay stops after the last commit the snapshot saw. Every segment the
 * replay needs is checked against its recorded checksum first, so a damaged one is named.
 */
public final class PitrDrill {
    private static final Logger log = LoggerFactory.getLogger(PitrDrill.class);
    private static final long SCAN_BACK = 2L << 20;
    private static final Pattern COMMIT = Pattern.compile(
            "rmgr: Transaction .*?tx:\\s+(\\d+), lsn: ([0-9A-F]+/[0-9A-F]+),.*desc: (COMMIT|ABORT)");

    private final Settings settings;
    private final PgTools tools;
    private final com.fasterxml.jackson.databind.ObjectMapper json;

    public PitrDrill(Settings settings, PgTools tools, com.fasterxml.jackson.databind.ObjectMapper json) {
        this.settings = settings;
        this.tools = tools;
        this.json = json;
    }

    /** {@code ran} false: nothing to drill (no base backup before the dump, WAL not there yet, no binaries). */
    public record Result(boolean passed, boolean ran, String details, Duration duration) {
    }

    /** Where to stop: after the record at {@code lsn} ({@code inclusive}) or before it. */
    record Stop(long lsn, boolean inclusive, String how) {
    }

    public Result run(Target target, Path dumpFile, Manifest m) {
        long started = System.nanoTime();
        String walLsn = m.facts().walLsn();
        String snapshot = m.facts().snapshot();
        if (walLsn == null || snapshot == null) {
            return notRun(started, dumpFile.getFileName() + " records no WAL position (taken before PITR, or on a"
                    + " standby)");
        }
        long lsn = Wal.parseLsn(walLsn);
        Replay replay = new Replay(target.name(), settings.backupDir().resolve(target.name()), tools, json);
        LocalCluster cluster = null;
        Path view = null;
        try {
            Replay.Plan plan = replay.plan(Replay.Point.lsn(lsn, false, "at the dump's WAL position"));
            view = LocalCluster.newDirectory(DrillSite.scratchParent(settings));
            Stop stop = stopFor(plan.bin(), replay.archive(), view, lsn, snapshot,
                    Math.max(plan.base().end(), lsn - SCAN_BACK), plan.segmentSize());
            plan = plan.at(Replay.Point.lsn(stop.lsn(), stop.inclusive(), stop.how()));
            cluster = replay.start(plan, DrillSite.scratchParent(settings), target, settings.pgDump().timeout());
            Settings.Target replayed = new Settings.Target("pitr-drill", cluster.host(), cluster.port(),
                    target.database(), target.user(), target.password(), "disable", Duration.ofSeconds(30));
            Map<String, Long> counts;
            try {
                counts = PgRestore.count(new Database(replayed), target.database(), m.rowCounts());
            } catch (BackstopException e) {
                throw new BackstopException(e.code(), e.getMessage() + "; the replayed server's log ends: "
                        + Replay.lastLines(cluster.log(), 5), e);
            }
            List<String> diffs = PgRestore.differences(m.rowCounts(), counts);
            String where = "base backup " + plan.base().name() + " + WAL to " + Wal.lsn(stop.lsn())
                    + (stop.inclusive() ? " (inclusive)" : "") + ", " + stop.how();
            return done(started, diffs.isEmpty(), diffs.isEmpty()
                    ? counts.size() + " tables, " + counts.values().stream().mapToLong(Long::longValue).sum()
                            + " rows, all as in " + dumpFile.getFileName() + "'s manifest: " + where
                    : "the replay differs from " + dumpFile.getFileName() + "'s manifest (" + where + "): "
                            + String.join("; ", diffs));
        } catch (Replay.Unavailable e) {
            return notRun(started, e.getMessage());
        } catch (BackstopException e) {
            return done(started, false, e.getMessage());
        } catch (IOException e) {
            return done(started, false, "cannot prepare the replay: " + e.getMessage());
        } finally {
            if (cluster != null) {
                cluster.close();
            }
            if (view != null) {
                deleteQuietly(view);
            }
        }
    }

    /**
     * The commits just before {@code lsn}, read with pg_waldump, against the dump's snapshot: stop after the
     * last one the snapshot saw. A commit the snapshot did not see can precede it only in the instant the
     * snapshot was taken; if one does, the result says so (its rows would be in the replay, not in the dump).
     */
    Stop stopFor(Path bin, WalArchive archive, Path scratch, long lsn, String snapshot, long scanFrom,
            long segmentSize) throws IOException {
        Path view = scratch.resolve("waldump");
        Files.createDirectories(view);
        for (long s = Wal.segnoOf(scanFrom, segmentSize); s <= Wal.segnoOf(lsn, segmentSize); s++) {
            linkSegment(archive, view, s, segmentSize);
        }
        ByteArrayLines out = new ByteArrayLines();
        ProcessRunner.Spec spec = ProcessRunner.Spec.of(List.of(bin.resolve("pg_waldump").toString(), "-p",
                view.toString(), "-s", Wal.lsn(scanFrom), "-e", Wal.lsn(lsn), "--rmgr=Transaction"), Map.of(),
                Duration.ofMinutes(10)).withStdout(in -> out.read(in));
        new ProcessRunner().run(spec, p -> { }); // its exit is 1 when the end falls mid-record: the lines count
        Sweep.deleteTree(view);
        String[] snap = snapshot.split(":");
        long xmax = Long.parseLong(snap[1]) & 0xFFFFFFFFL;
        Set<Long> xip = new HashSet<>();
        if (snap.length > 2 && !snap[2].isBlank()) {
            for (String x : snap[2].split(",")) {
                xip.add(Long.parseLong(x) & 0xFFFFFFFFL);
            }
        }
        Long lastSeen = null;
        Long firstUnseen = null;
        boolean unseenBeforeSeen = false;
        for (String line : out.lines()) {
            Matcher mt = COMMIT.matcher(line);
            if (!mt.find() || !"COMMIT".equals(mt.group(3))) {
                continue;
            }
            long xid = Long.parseLong(mt.group(1));
            long at = Wal.parseLsn(mt.group(2));
            boolean seen = (int) (xid - xmax) < 0 && !xip.contains(xid);
            if (seen) {
                lastSeen = at;
                if (firstUnseen != null) {
                    unseenBeforeSeen = true;
                }
            } else if (firstUnseen == null) {
                firstUnseen = at;
            }
        }
        if (lastSeen != null) {
            return new Stop(lastSeen, true, "after the last commit the dump's snapshot saw"
                    + (unseenBeforeSeen ? " (a commit it did not see came first: its rows are in the replay)" : ""));
        }
        if (firstUnseen != null) {
            return new Stop(firstUnseen, false, "before the first commit the dump's snapshot did not see");
        }
        return new Stop(lsn, false, "at the dump's WAL position (no commit near it)");
    }

    /** Links segment {@code s} (complete, else the one still being received) into {@code view} under its own name. */
    private static void linkSegment(WalArchive archive, Path view, long s, long segmentSize) throws IOException {
        Optional<Path> file = Segments.segmentFile(archive, s, segmentSize);
        if (file.isPresent()) {
            Files.createSymbolicLink(view.resolve(Segments.name(file.get())), file.get());
        }
    }

    private Result notRun(long started, String why) {
        log.warn("PITR drill NOT RUN: {}", why);
        return new Result(false, false, why, Duration.ofNanos(System.nanoTime() - started));
    }

    private static Result done(long started, boolean passed, String details) {
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        if (passed) {
            log.info("PITR drill passed: {} ({})", details, Sizes.seconds(took));
        } else {
            log.warn("PITR drill FAILED: {}. The WAL archive does not reproduce a known state: a recovery to a"
                    + " point would not be trustworthy", details);
        }
        return new Result(passed, true, details, took);
    }

    private static void deleteQuietly(Path dir) {
        try {
            Sweep.deleteTree(dir);
        } catch (IOException ignored) {
            // swept with the drill's clusters at the next start
        }
    }

    /** stdout of pg_waldump, kept as lines. */
    private static final class ByteArrayLines {
        private final List<String> lines = new ArrayList<>();

        void read(java.io.InputStream in) throws IOException {
            try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (lines) {
                        lines.add(line);
                    }
                }
            }
        }

        List<String> lines() {
            synchronized (lines) {
                return List.copyOf(lines);
            }
        }
    }
}
