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
import io.backstop.pitr.BaseBackups;
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
        Path targetDir = settings.backupDir().resolve(target.name());
        BaseBackups bases = new BaseBackups(targetDir, tools, json, java.time.Clock.systemUTC());
        Optional<BaseBackups.Base> base = bases.list().stream().filter(b -> b.end() <= lsn)
                .reduce((a, b) -> b);
        if (base.isEmpty()) {
            return notRun(started, "no base backup ends before " + dumpFile.getFileName() + "'s WAL position " + walLsn);
        }
        WalArchive archive = new WalArchive(targetDir);
        Path scratch = null;
        LocalCluster cluster = null;
        try {
            long segmentSize = archive.segmentSize();
            long from = Wal.segnoOf(base.get().start(), segmentSize);
            long to = Wal.segnoOf(lsn, segmentSize);
            List<String> damaged = archive.verify(from, segmentSize).stream()
                    .filter(n -> Wal.segno(n, segmentSize) <= to).toList();
            WalArchive.Continuity c = archive.continuity(from, segmentSize);
            List<String> problems = new ArrayList<>();
            damaged.forEach(n -> problems.add("WAL segment " + n + " no longer matches its recorded checksum"));
            int timeline = base.get().timeline();
            c.holes().stream().filter(h -> h.from() <= to && h.reason().startsWith("missing")) // damaged: named above
                    .forEach(h -> problems.add("WAL " + Wal.segmentName(timeline, h.from(), segmentSize)
                            + (h.to() > h.from() ? " to " + Wal.segmentName(timeline, Math.min(h.to(), to), segmentSize)
                                    : "") + " " + h.reason()));
            if (!problems.isEmpty()) {
                return done(started, false, String.join("; ", problems));
            }
            Path bin = LocalCluster.serverBinaries(tools.pgDump().getParent(), major(base.get().serverVersion()))
                    .orElse(null);
            if (bin == null) {
                return notRun(started, "no PostgreSQL " + major(base.get().serverVersion()) + " server binaries here:"
                        + " a replay needs the server's own major version (backstop doctor says how to get them)");
            }
            scratch = LocalCluster.newDirectory(DrillSite.scratchParent(settings));
            Stop stop = stopFor(bin, archive, scratch, lsn, snapshot, Math.max(base.get().end(), lsn - SCAN_BACK),
                    segmentSize);
            prepare(bases.dataDir(base.get()), scratch, stop, target.password().isPresent());
            copyWal(archive, scratch.resolve("wal"), from, Wal.segnoOf(stop.lsn(), segmentSize), segmentSize);
            cluster = LocalCluster.recover(bin, scratch, Map.of("hot_standby", "off", "wal_level", "replica",
                    "archive_mode", "off", "shared_preload_libraries", "''", "ssl", "off",
                    "logging_collector", "off", "max_connections", "20"), settings.pgDump().timeout());
            Settings.Target replayed = new Settings.Target("pitr-drill", cluster.host(), cluster.port(),
                    target.database(), target.user(), target.password(), "disable", Duration.ofSeconds(30));
            awaitPromotion(cluster, replayed, settings.pgDump().timeout());
            Map<String, Long> counts;
            try {
                counts = PgRestore.count(new Database(replayed), target.database(), m.rowCounts());
            } catch (BackstopException e) {
                throw new BackstopException(e.code(), e.getMessage() + "; the replayed server's log ends: "
                        + lastLines(cluster.log(), 5), e);
            }
            List<String> diffs = PgRestore.differences(m.rowCounts(), counts);
            String where = "base backup " + base.get().name() + " + WAL to " + Wal.lsn(stop.lsn())
                    + (stop.inclusive() ? " (inclusive)" : "") + ", " + stop.how();
            return done(started, diffs.isEmpty(), diffs.isEmpty()
                    ? counts.size() + " tables, " + counts.values().stream().mapToLong(Long::longValue).sum()
                            + " rows, all as in " + dumpFile.getFileName() + "'s manifest: " + where
                    : "the replay differs from " + dumpFile.getFileName() + "'s manifest (" + where + "): "
                            + String.join("; ", diffs));
        } catch (BackstopException e) {
            return done(started, false, e.getMessage());
        } catch (IOException e) {
            return done(started, false, "cannot prepare the replay: " + e.getMessage());
        } finally {
            if (cluster != null) {
                cluster.close();
            } else if (scratch != null) {
                deleteQuietly(scratch);
            }
        }
    }

    private static String major(String serverVersion) {
        String v = serverVersion == null ? "" : serverVersion.strip();
        int dot = v.indexOf('.');
        return dot > 0 ? v.substring(0, dot) : v.replaceAll("[^0-9].*", "");
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
        Optional<Path> file = segmentFile(archive, s, segmentSize);
        if (file.isPresent()) {
            Files.createSymbolicLink(view.resolve(name(file.get())), file.get());
        }
    }

    /** Segment {@code s} as recorded in the archive, else as pg_receivewal is still writing it (.partial). */
    private static Optional<Path> segmentFile(WalArchive archive, long s, long segmentSize) throws IOException {
        for (WalArchive.Entry e : archive.entries()) {
            if (Wal.isSegment(e.name()) && Wal.segno(e.name(), segmentSize) == s) {
                return Optional.of(archive.dir().resolve(e.name()));
            }
        }
        if (Files.isDirectory(archive.incoming())) {
            try (Stream<Path> files = Files.list(archive.incoming())) {
                for (Path f : files.toList()) {
                    String n = f.getFileName().toString();
                    if (Wal.isPartial(n)
                            && Wal.segno(n.substring(0, 24), segmentSize) == s) {
                        return Optional.of(f);
                    }
                }
            }
        }
        return Optional.empty();
    }

    /** A segment file's name without .partial. */
    private static String name(Path segment) {
        return segment.getFileName().toString().substring(0, 24);
    }

    /**
     * The WAL the replay reads, copied beside the cluster: the server reads it as its own user, which may
     * not be allowed into the archive. Segments {@code from} to {@code to}, and every timeline history file.
     */
    private static void copyWal(WalArchive archive, Path into, long from, long to, long segmentSize) throws IOException {
        Files.createDirectories(into);
        for (long s = from; s <= to; s++) {
            Optional<Path> f = segmentFile(archive, s, segmentSize);
            if (f.isPresent()) {
                Files.copy(f.get(), into.resolve(name(f.get())), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        for (WalArchive.Entry e : archive.entries()) {
            if (e.name().endsWith(".history")) {
                Files.copy(archive.dir().resolve(e.name()), into.resolve(e.name()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** The base backup copied into {@code scratch/data}, with the recovery settings and a restore command over the archive. */
    private static void prepare(Path base, Path scratch, Stop stop, boolean password) throws IOException {
        Path data = scratch.resolve("data");
        try (Stream<Path> all = Files.walk(base)) {
            for (Path p : all.toList()) {
                Path to = data.resolve(base.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(p, to, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        Files.deleteIfExists(data.resolve("postmaster.pid"));
        Path script = scratch.resolve("restore-wal");
        String wal = "'" + scratch.resolve("wal").toString().replace("'", "'\\''") + "'";
        Files.writeString(script, "#!/bin/sh\nexec cp " + wal + "/\"$1\" \"$2\" 2>/dev/null\n", StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("r-xr-xr-x"));
        // The replayed cluster's roles are production's: the target's login with its own password (md5 also
        // takes a SCRAM secret), or, for a target that logs in without one, as it does there.
        Files.writeString(data.resolve("pg_hba.conf"), "host all all 127.0.0.1/32 " + (password ? "md5" : "trust")
                + "\n", StandardCharsets.UTF_8);
        if (!Files.exists(data.resolve("postgresql.conf"))) {
            Files.writeString(data.resolve("postgresql.conf"), "", StandardCharsets.UTF_8); // a Debian-style server keeps it in /etc
        }
        String recovery = "\n# backstop PITR drill\nrestore_command = '" + script.toString().replace("'", "''") + " %f %p'\n"
                + "recovery_target_lsn = '" + Wal.lsn(stop.lsn()) + "'\n"
                + "recovery_target_inclusive = " + (stop.inclusive() ? "on" : "off") + "\n"
                + "recovery_target_action = 'promote'\n"
                + "primary_conninfo = ''\nprimary_slot_name = ''\narchive_command = ''\n"
                + "hba_file = '" + data.resolve("pg_hba.conf").toString().replace("'", "''") + "'\n"
                + "ident_file = ''\n";
        Files.writeString(data.resolve("postgresql.auto.conf"), recovery, StandardCharsets.UTF_8,
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        Files.writeString(data.resolve("recovery.signal"), "", StandardCharsets.UTF_8);
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

    /** Waits until the replay reached its target and the server took connections; its log's end when it stopped instead. */
    private static void awaitPromotion(LocalCluster cluster, Settings.Target replayed, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try (java.sql.Connection c = new Database(replayed).connect()) {
                return;
            } catch (BackstopException | java.sql.SQLException e) {
                if (!Files.exists(cluster.dir().resolve("data").resolve("postmaster.pid"))) {
                    throw new BackstopException(ExitCode.DUMP_FAILED, "the replay stopped: " + lastLines(cluster.log(), 4));
                }
                if (System.nanoTime() > deadline) {
                    throw new BackstopException(ExitCode.DUMP_FAILED, "the replay did not finish within " + timeout
                            + ": " + lastLines(cluster.log(), 2));
                }
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BackstopException(ExitCode.INTERRUPTED, "interrupted while the replay ran", e);
            }
        }
    }

    private static String lastLines(String text, int n) {
        List<String> lines = text.lines().filter(l -> !l.isBlank()).toList();
        return String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
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
