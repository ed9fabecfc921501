package io.backstop.pitr;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.config.Settings;
import io.backstop.files.Sweep;
import io.backstop.pg.Database;
import io.backstop.pg.LocalCluster;
import io.backstop.pg.PgTools;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A replay of one target's archive to a point: the newest base backup that ends before it, the archived
 * WAL after it (every segment checked against its recorded checksum first, a missing or damaged one named),
 * and the recovery settings that stop there. Into a throwaway cluster started with the local server
 * binaries of the server's major version ({@link #start}: the PITR drill, {@code restore --at}, {@code
 * recover --at}), or into a data directory a server is started on later ({@link #writeDataDirectory}:
 * {@code restore --at --physical}, the host-is-lost case).
 */
public final class Replay {
    private static final DateTimeFormatter PG_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS'+00'")
            .withZone(ZoneOffset.UTC);

    /**
     * Where a replay stops: after or before ({@code inclusive}) the record at {@code lsn}, or the commits at
     * {@code time}; neither: at the end of the archived WAL. {@code how} says it in words.
     */
    public record Point(Optional<Long> lsn, Optional<Instant> time, boolean inclusive, String how) {
        public static Point lsn(long lsn, boolean inclusive, String how) {
            return new Point(Optional.of(lsn), Optional.empty(), inclusive, how);
        }

        public static Point time(Instant time, boolean inclusive) {
            return new Point(Optional.empty(), Optional.of(time), inclusive, (inclusive ? "through " : "before ")
                    + "the commits of " + time);
        }

        static Point end(String how) {
            return new Point(Optional.empty(), Optional.empty(), false, how);
        }

        /** The recovery settings that stop here (none: the replay runs to the end of the WAL it has). */
        String settings() {
            if (lsn.isPresent()) {
                return "recovery_target_lsn = '" + Wal.lsn(lsn.get()) + "'\nrecovery_target_inclusive = "
                        + (inclusive ? "on" : "off") + "\n";
            }
            if (time.isPresent()) {
                return "recovery_target_time = '" + PG_TIME.format(time.get()) + "'\nrecovery_target_inclusive = "
                        + (inclusive ? "on" : "off") + "\n";
            }
            return "";
        }

        @Override
        public String toString() {
            return lsn.map(l -> (inclusive ? "through " : "before ") + Wal.lsn(l)).or(() -> time.map(
                    t -> (inclusive ? "through " : "before ") + t)).orElse("the end of the archived WAL");
        }
    }

    /**
     * What a replay reads: {@code base}, segments {@code from} to {@code to} of the archive, the server
     * binaries in {@code bin}, and where it stops.
     */
    public record Plan(BaseBackups.Base base, Path baseDir, long from, long to, long segmentSize, Point point,
            Path bin) {
        public String describe() {
            return "base backup " + base.name() + " + WAL " + point;
        }

        /** The same replay, stopping at {@code other} (no later than this one's last segment). */
        public Plan at(Point other) {
            return new Plan(base, baseDir, from, to, segmentSize, other, bin);
        }
    }

    /** Nothing to replay from (no base backup before the point, no server binaries): not a failure of the archive. */
    public static final class Unavailable extends BackstopException {
        public Unavailable(String message) {
            super(ExitCode.USAGE, message);
        }
    }

    private final String targetName;
    private final Path targetDir;
    private final PgTools tools;
    private final ObjectMapper json;

    public Replay(String targetName, Path targetDir, PgTools tools, ObjectMapper json) {
        this.targetName = targetName;
        this.targetDir = targetDir;
        this.tools = tools;
        this.json = json;
    }

    public WalArchive archive() {
        return new WalArchive(targetDir);
    }

    /**
     * The base backup and the WAL a replay to {@code point} needs, checked: a point outside the recoverable
     * window is refused with the window, a segment missing or no longer matching its checksum is named.
     */
    public Plan plan(Point point) {
        BaseBackups bases = new BaseBackups(targetDir, tools, json, Clock.systemUTC());
        WalArchive archive = archive();
        try {
            List<BaseBackups.Base> all = bases.list();
            long segmentSize = archive.segmentSize();
            BaseBackups.Base base = newestBefore(all, point);
            long from = Wal.segnoOf(base.start(), segmentSize);
            long newest = Segments.newest(archive, segmentSize).orElse(from);
            if (point.lsn().isPresent() && Wal.segnoOf(point.lsn().get(), segmentSize) > newest) {
                throw new BackstopException(ExitCode.USAGE, Wal.lsn(point.lsn().orElseThrow()) + " is past the WAL "
                        + targetName + "'s archive holds (its newest segment is " + Wal.segmentName(base.timeline(),
                        newest, segmentSize) + "); " + window());
            }
            if (point.time().isPresent() && window(archive, all).to() != null
                    && point.time().get().isAfter(window(archive, all).to())) {
                throw new BackstopException(ExitCode.USAGE, point.time().get() + " is after the newest WAL "
                        + targetName + "'s archive holds; " + window());
            }
            Path bin = LocalCluster.serverBinaries(tools.pgDump().getParent(), major(base.serverVersion()))
                    .orElseThrow(() -> new Unavailable("no PostgreSQL " + major(base.serverVersion())
                            + " server binaries here: a replay needs the server's own major version (backstop doctor"
                            + " says how to get them)"));
            Point stop = point;
            long to = point.lsn().map(l -> Wal.segnoOf(l, segmentSize)).orElse(newest);
            if (point.time().isPresent()) {
                // A server replaying to a time past the last commit it finds stops with an error: a point after
                // the newest commit archived is the end of the archive (the same data, to the second). Where a
                // commit the replay stops at was found, no other is read.
                Instant t = point.time().get();
                java.util.OptionalLong through = WalDump.segmentThrough(bin, archive, from, newest, segmentSize, t,
                        point.inclusive());
                if (through.isPresent()) {
                    to = through.getAsLong();
                } else {
                    Optional<Instant> last = WalDump.newestCommit(bin, archive, from, newest, segmentSize);
                    if (last.isEmpty() || t.isAfter(last.get()) || (point.inclusive() && t.equals(last.get()))) {
                        stop = Point.end("to the end of the archived WAL (" + last.map(l -> "its newest commit is of "
                                + l).orElse("no commit in it") + ", before " + t + ")");
                    }
                }
            }
            long through = to;
            // Missing segments here; a damaged one is named when its copy is checked (copyWal): read once.
            List<String> problems = new ArrayList<>();
            WalArchive.Continuity c = archive.continuity(from, segmentSize);
            int timeline = base.timeline();
            c.holes().stream().filter(h -> h.from() <= through && h.reason().startsWith("missing"))
                    .forEach(h -> problems.add("WAL " + Wal.segmentName(timeline, h.from(), segmentSize)
                            + (h.to() > h.from() ? " to " + Wal.segmentName(timeline, Math.min(h.to(), through),
                                    segmentSize) : "") + " " + h.reason()));
            for (long s = from; s <= through; s++) {
                String name = Wal.segmentName(timeline, s, segmentSize);
                if (Segments.segmentFile(archive, s, segmentSize).isEmpty()
                        && problems.stream().noneMatch(p -> p.contains(name))) {
                    problems.add("WAL segment " + name + " is missing"); // past the last recorded one
                }
            }
            if (!problems.isEmpty()) {
                throw new BackstopException(ExitCode.BAD_BACKUP, "the replay of " + targetName + " (" + point + ")"
                        + " needs WAL the archive cannot give: " + String.join("; ", problems));
            }
            return new Plan(base, bases.dataDir(base), from, to, segmentSize, stop, bin);
        } catch (IOException e) {
            throw io.backstop.files.Durable.storageError("cannot read the WAL archive of " + targetName + " in "
                    + targetDir, e);
        }
    }

    /** The base backup a replay to {@code point} starts from: the newest that ends before it; refused without one. */
    private BaseBackups.Base newestBefore(List<BaseBackups.Base> all, Point point) {
        Optional<BaseBackups.Base> base = all.stream().filter(b -> point.lsn().map(l -> b.end() <= l)
                .orElseGet(() -> point.time().map(t -> !b.finishedAt().isAfter(t)).orElse(true))).reduce((a, b) -> b);
        if (base.isEmpty()) {
            throw new Unavailable("no base backup of " + targetName + " ends before " + point + "; " + window());
        }
        return base.get();
    }

    /** The directory of the base backup {@link #plan} chooses for {@code point}. */
    private Path baseFor(Point point) throws IOException {
        BaseBackups bases = new BaseBackups(targetDir, tools, json, Clock.systemUTC());
        return bases.dataDir(newestBefore(bases.list(), point));
    }

    /**
     * The incident's commit ({@link Incidents}) in the WAL from {@code fromLsn} (or the oldest kept, when the
     * archive no longer reaches back that far) to the newest received, among commits up to {@code until}.
     */
    public Optional<Incidents.Incident> findIncident(long fromLsn, long databaseOid, Map<String, Long> files,
            Instant until, boolean updates) {
        try {
            List<BaseBackups.Base> all = new BaseBackups(targetDir, tools, json, Clock.systemUTC()).list();
            if (all.isEmpty()) {
                throw new Unavailable("no base backup of " + targetName + " yet: its archive holds no WAL to search");
            }
            WalArchive archive = archive();
            long segmentSize = archive.segmentSize();
            long from = Math.max(fromLsn, all.get(0).start());
            long newest = Segments.newest(archive, segmentSize).orElse(Wal.segnoOf(from, segmentSize));
            String major = major(all.get(all.size() - 1).serverVersion());
            Path bin = LocalCluster.serverBinaries(tools.pgDump().getParent(), major).orElseThrow(() -> new Unavailable(
                    "no PostgreSQL " + major + " pg_waldump here: reading the archive needs the server's own major"
                            + " version (backstop doctor says how to get it)"));
            return Incidents.find(bin, archive, from, Wal.segnoOf(from, segmentSize), newest, segmentSize, databaseOid,
                    files, until, updates);
        } catch (IOException e) {
            throw io.backstop.files.Durable.storageError("cannot read the WAL archive of " + targetName + " in "
                    + targetDir, e);
        }
    }

    /** The window line, for messages. */
    private String window() {
        try {
            return "recoverable: " + window(archive(), new BaseBackups(targetDir, tools, json, Clock.systemUTC()).list())
                    .describe();
        } catch (IOException e) {
            return "the window cannot be read: " + e.getMessage();
        }
    }

    private Window window(WalArchive archive, List<BaseBackups.Base> bases) throws IOException {
        return Window.of(bases, archive, new Gaps(targetDir, json, Clock.systemUTC()).list(),
                archive.lastWritten().orElse(null));
    }


    public static String major(String serverVersion) {
        String v = serverVersion == null ? "" : serverVersion.strip();
        int dot = v.indexOf('.');
        return dot > 0 ? v.substring(0, dot) : v.replaceAll("[^0-9].*", "");
    }

    /**
     * Replays {@code plan} in a new throwaway cluster under {@code scratchParent} and returns it once
     * promoted, taking connections. The replayed server admits {@code login} as production does (its
     * password, or none where the target logs in without one). The caller closes it (and its directory).
     */
    public LocalCluster start(Plan plan, Path scratchParent, Settings.Target login, Duration timeout) {
        Path scratch = LocalCluster.newDirectory(scratchParent);
        try {
            // (the throwaway cluster runs with fsync off: nothing of it is made durable)
            ReplayFiles.Layout layout = ReplayFiles.Layout.throwaway(scratch);
            ReplayFiles.copyBeside(targetName, targetDir, plan, layout, ReplayFiles.BaseCopy.start(plan.baseDir(),
                    layout), () -> { }, () -> { });
            Path script = scratch.resolve("restore-wal");
            String wal = "'" + layout.wal().toString().replace("'", "'\\''") + "'";
            Files.writeString(script, "#!/bin/sh\nexec cp " + wal + "/\"$1\" \"$2\" 2>/dev/null\n", StandardCharsets.UTF_8);
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("r-xr-xr-x"));
            Path data = layout.data();
            // The replayed cluster's roles are production's: the target's login with its own password (md5 also
            // takes a SCRAM secret), or, for a target that logs in without one, as it does there.
            Files.writeString(data.resolve("pg_hba.conf"), "host all all 127.0.0.1/32 "
                    + (login.password().isPresent() ? "md5" : "trust") + "\n", StandardCharsets.UTF_8);
            // (its hot standby is off, the replay's max_connections below production's: promoted by the target action)
            RecoverySettings.write(data, plan.point(), "'" + script.toString().replace("'", "''") + " %f %p'", false,
                    "hba_file = '" + data.resolve("pg_hba.conf").toString().replace("'", "''") + "'\nident_file = ''\n");
        } catch (IOException e) {
            deleteQuietly(scratch);
            throw io.backstop.files.Durable.storageError("cannot prepare the replay of " + targetName + " in " + scratch, e);
        } catch (RuntimeException e) {
            deleteQuietly(scratch); // a damaged segment: nothing is replayed
            throw e;
        }
        LocalCluster cluster = LocalCluster.recover(plan.bin(), scratch, Map.of("hot_standby", "off", "wal_level",
                "replica", "archive_mode", "off", "shared_preload_libraries", "''", "ssl", "off", "logging_collector",
                "off", "max_connections", "20"), timeout);
        try {
            Settings.Target replayed = new Settings.Target(targetName, cluster.host(), cluster.port(), login.database(),
                    login.user(), login.password(), "disable", Duration.ofSeconds(30));
            awaitPromotion(cluster, replayed, timeout);
            return cluster;
        } catch (RuntimeException e) {
            cluster.close();
            throw e;
        }
    }

    /**
     * A ready data directory for {@code point} in {@code dir} (new or empty): the base backup, checked with
     * pg_verifybackup, the WAL the replay needs in its pg_wal, and the recovery settings that stop at the point
     * and promote; returns the plan it holds. The base backup's copy begins once it is chosen, while the rest is
     * planned (the WAL read for the point's commit). A directory that is not empty is refused and left as it is.
     */
    public Plan writeDataDirectory(Point point, Path dir) {
        try (Stream<Path> any = Files.isDirectory(dir) ? Files.list(dir) : Stream.empty()) {
            if (any.findAny().isPresent()) {
                throw new BackstopException(ExitCode.USAGE, dir + " is not empty; nothing was written there."
                        + " Name a new or empty directory");
            }
        } catch (IOException e) {
            throw io.backstop.files.Durable.storageError("cannot read the directory " + dir, e);
        }
        ReplayFiles.BaseCopy early = null;
        try {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            ReplayFiles.Layout layout = ReplayFiles.Layout.dataDirectory(dir);
            early = ReplayFiles.BaseCopy.start(baseFor(point), layout);
            Plan plan = plan(point);
            if (!plan.baseDir().equals(early.baseDir)) { // a base backup came or went meanwhile: the plan's it is
                ReplayFiles.BaseCopy.abandon(early, dir);
                early = ReplayFiles.BaseCopy.start(plan.baseDir(), layout);
            }
            // The archive's WAL (the base backup's own segments among it) goes to pg_wal.
            Files.createDirectories(dir.resolve("pg_wal"));
            ReplayFiles.BaseCheck check = new ReplayFiles.BaseCheck(tools, plan, dir);
            ReplayFiles.copyBeside(targetName, targetDir, plan, layout, early, check::copied, check::whileCopying);
            // The WAL is in pg_wal: no archive to fetch from ('false' makes the server read pg_wal).
            RecoverySettings.write(dir, plan.point(), "'false'",
                    RecoverySettings.promotesAtOnce(major(plan.base().serverVersion())), "");
            return plan;
        } catch (IOException e) {
            ReplayFiles.BaseCopy.abandon(early, dir);
            throw io.backstop.files.Durable.storageError("cannot write the data directory " + dir, e);
        } catch (RuntimeException e) {
            ReplayFiles.BaseCopy.abandon(early, dir); // half a data directory must never be started: it was empty, it is again
            throw e;
        }
    }

    /** Waits until the replay reached its point and the server took connections; its log's end when it stopped instead. */
    private static void awaitPromotion(LocalCluster cluster, Settings.Target replayed, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try (java.sql.Connection c = new Database(replayed).connect()) {
                return;
            } catch (BackstopException | java.sql.SQLException e) {
                String why = String.valueOf(e.getMessage());
                if ((why.contains("database \"") && why.contains("does not exist")) || why.contains("invalid database")) {
                    // the server is up and answers: the database is not there at this point
                    throw new BackstopException(ExitCode.USAGE, "at this point the replayed server has no database "
                            + replayed.database() + " to take (" + why.strip() + "); choose another point");
                }
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

    public static String lastLines(String text, int n) {
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
}
