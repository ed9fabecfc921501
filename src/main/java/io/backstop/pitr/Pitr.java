package io.backstop.pitr;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.backstop.Background;
import io.backstop.BackstopException;
import io.backstop.catalog.BackupLayout;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Database;
import io.backstop.pg.PgTools;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Point-in-time recovery for the daemon's targets that have it on: per target, WAL streamed by a
 * supervised {@link WalReceiver}, a watch every {@link #TICK} (completed segments recorded, the slot
 * and the receiver's position read from the server, the archive's continuity checked, the window
 * reported), and base backups when due: at once when there is no window (none yet, or a gap), then
 * every {@code pitr.base-backup.every}. Old base backups and the WAL before the oldest kept one go.
 */
public final class Pitr implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Pitr.class);
    static final Duration TICK = Duration.ofSeconds(2);
    private static final Duration BASE_RETRY = Duration.ofMinutes(5);

    /** Where each reading goes: /health and /metrics. */
    public interface Listener {
        void pitr(String target, Status status);
    }

    /**
     * One reading of a target's PITR. {@code lastReceivedAt}: when the archive last held all the WAL the
     * server had written, or received more. {@code stale}: the server wrote WAL and none arrived for
     * longer than {@code pitr.max-lag} (or streaming has been down that long).
     */
    @com.fasterxml.jackson.databind.annotation.JsonNaming(
            com.fasterxml.jackson.databind.PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Status(Instant lastReceivedAt, long receiveLagBytes, long slotRetainedBytes, Instant lastBaseBackup,
            Window window, boolean stale, boolean streaming, String problem) {
    }

    private final List<Target> targets;
    private final BackupLayout layout;
    private final PgTools tools;
    private final ObjectMapper json;
    private final Clock clock;
    private final Listener listener;
    private final Map<String, Stream> streams = new ConcurrentHashMap<>();
    private ScheduledExecutorService ticks;
    private volatile java.util.function.Consumer<String> walRecorded = t -> { };
    private ExecutorService baseBackups;
    /** Whether this process streams a target's WAL now: always alone; in a fleet, on the one node that claimed it. */
    private volatile java.util.function.Predicate<String> owns = t -> true;

    public Pitr(List<Target> targets, BackupLayout layout, PgTools tools, ObjectMapper json, Clock clock,
            Listener listener) {
        this.targets = targets.stream().filter(t -> t.pitr().enabled()).toList();
        this.layout = layout;
        this.tools = tools;
        this.json = json;
        this.clock = clock;
        this.listener = listener;
    }

    public boolean any() {
        return !targets.isEmpty();
    }

    /** The archive, base backups and gaps of one target, as kept on disk. */
    public static WalArchive archive(BackupLayout layout, String target) {
        return new WalArchive(layout.targetDir(target));
    }

    /** A target's recoverable window as its files say, for commands that run beside (or without) the daemon. */
    public static Window window(BackupLayout layout, String target, ObjectMapper json, Clock clock) {
        java.nio.file.Path dir = layout.targetDir(target);
        WalArchive archive = new WalArchive(dir);
        try {
            return Window.of(new BaseBackups(dir, null, json, clock).list(), archive, new Gaps(dir, json, clock).list(),
                    archive.lastWritten().orElse(null));
        } catch (java.io.IOException e) {
            throw io.backstop.files.Durable.storageError("cannot read the WAL archive of " + target + " in " + dir, e);
        }
    }

    /**
     * In a fleet: a target's WAL is streamed, and its base backups taken, only while {@code owner} says this
     * node plays that part (one node at a time, over one slot); the other nodes read its archive from disk.
     */
    public void streamOnlyWhen(java.util.function.Predicate<String> owner) {
        this.owns = owner;
    }

    public synchronized void start(java.util.function.Consumer<String> walRecorded) {
        this.walRecorded = walRecorded;
        if (targets.isEmpty()) {
            return;
        }
        try {
            for (String tool : List.of("pg_receivewal", "pg_basebackup", "pg_verifybackup")) {
                tools.tool(tool);
            }
        } catch (BackstopException missing) {
            // Dumps go on; /health says WAL_GAP (no window) with this reason once the start-up grace is over.
            log.error("point-in-time recovery cannot run: {}", missing.getMessage());
            for (Target t : targets) {
                listener.pitr(t.name(), new Status(null, 0, 0, null, new Window(null, null,
                        List.of(missing.getMessage()), true, 0, 0, 0), false, false, missing.getMessage()));
            }
            return;
        }
        ticks = Executors.newScheduledThreadPool(Math.min(4, targets.size()), Background.threads("pitr-watch"));
        baseBackups = Executors.newCachedThreadPool(Background.threads("pitr-base-backup"));
        for (Target t : targets) {
            Stream s = new Stream(t);
            streams.put(t.name(), s);
            if (owns.test(t.name())) {
                s.bases.sweep();
                warnAboutServer(t);
                s.receiver.start();
                s.streaming = true;
            }
            ticks.scheduleWithFixedDelay(() -> s.tick(), 0, TICK.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** Says at start what the server lets a slot do: without max_slot_wal_keep_size a stopped sidecar can fill its disk. */
    private void warnAboutServer(Target t) {
        try (Connection c = new Database(t).connect()) {
            Slot.Server server = Slot.server(c);
            if (server.slotUncapped()) {
                log.warn("target {}: the server lets replication slot {} hold back WAL without limit: while Backstop"
                        + " is stopped, WAL accumulates on the database server's disk until it is full. Set"
                        + " max_slot_wal_keep_size (e.g. ALTER SYSTEM SET max_slot_wal_keep_size = '10GB'; SELECT"
                        + " pg_reload_conf();): a slot past it is given up (a gap Backstop reports), never the server",
                        t.name(), t.pitr().slot());
            } else {
                log.info("target {}: the server caps what slot {} may hold back at max_slot_wal_keep_size = {} MB",
                        t.name(), t.pitr().slot(), server.maxSlotWalKeepSizeMb());
            }
        } catch (SQLException | BackstopException e) {
            log.warn("target {}: cannot read the server's WAL settings now ({}); streaming starts when it answers",
                    t.name(), e.getMessage());
        }
    }

    /** Takes a base backup of {@code target} now, on the caller's thread (the scheduled ones run on their own). */
    public BaseBackups.Base baseBackup(String target) {
        Stream s = streams.get(target);
        if (s == null) {
            throw new BackstopException(io.backstop.ExitCode.USAGE, "target " + target + " has no PITR (pitr.enabled)");
        }
        return s.baseBackup();
    }

    @Override
    public synchronized void close() {
        if (ticks == null) {
            return;
        }
        ticks.shutdownNow();
        baseBackups.shutdownNow(); // pg_basebackup is killed; its temporary directory goes
        for (Stream s : streams.values()) {
            s.receiver.stop(Duration.ofSeconds(15));
            s.closeConnection();
        }
        try {
            ticks.awaitTermination(10, TimeUnit.SECONDS);
            baseBackups.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Stream s : streams.values()) {
            if (!s.streaming) {
                continue; // another node's archive: it records its own
            }
            try {
                s.archive.collect(); // what pg_receivewal completed last still counts
            } catch (java.io.IOException | RuntimeException e) {
                log.warn("WAL archive of {}: {}", s.target.name(), e.getMessage());
            }
        }
        ticks = null;
    }

    /** One target's streaming, watch and base backups. */
    private final class Stream {
        final Target target;
        final WalArchive archive;
        final BaseBackups bases;
        final Gaps gaps;
        final WalReceiver receiver;
        final AtomicBoolean baseRunning = new AtomicBoolean();
        volatile Instant baseFailedAt;
        volatile String baseError;
        Connection connection;
        long receivedLsn = -1;
        Instant lastReceivedAt;
        boolean slotOverAlert;
        /** Whether this process streams the target now (in a fleet, another node may). */
        volatile boolean streaming;

        Stream(Target target) {
            this.target = target;
            this.archive = archive(layout, target.name());
            this.bases = new BaseBackups(layout.targetDir(target.name()), tools, json, clock);
            this.gaps = new Gaps(layout.targetDir(target.name()), json, clock);
            this.receiver = new WalReceiver(target, tools, archive, bases, gaps, clock);
            this.lastReceivedAt = clock.instant();
        }

        void tick() {
            try {
                if (!owns.test(target.name())) {
                    if (streaming) {
                        streaming = false;
                        log.info("target {}: its WAL is streamed by another node of the fleet now", target.name());
                        receiver.stop(Duration.ofSeconds(15));
                        closeConnection();
                    }
                    elsewhere();
                    return;
                }
                if (!streaming) {
                    streaming = true;
                    log.info("target {}: this node streams its WAL (and takes its base backups)", target.name());
                    bases.sweep();
                    receiver.start();
                }
                watch();
            } catch (RuntimeException | Error e) {
                log.warn("PITR watch of {}: {}", target.name(), e.getMessage(), e);
            }
        }

        private void watch() {
            Instant now = clock.instant();
            String problem = null;
            try {
                if (!archive.collect().isEmpty()) {
                    walRecorded.accept(target.name()); // its offsite copy starts now
                }
            } catch (java.io.IOException e) {
                problem = "cannot record received WAL in " + archive.dir() + ": " + e.getMessage();
            }
            long lag = 0;
            long retained = 0;
            Slot.State slot = null;
            try {
                slot = Slot.read(connection(), target.pitr().slot());
            } catch (SQLException | BackstopException e) {
                closeConnection();
                problem = "cannot read the slot from the server: " + e.getMessage();
            }
            if (slot != null) {
                retained = slot.retainedBytes();
                if (slot.lost()) {
                    log.warn("target {}: replication slot {} is lost (wal_status = lost)", target.name(),
                            target.pitr().slot());
                    receiver.slotLost();
                }
                long received = slot.receivedLsn().orElse(slot.restartLsn().orElse(-1L));
                if (received > receivedLsn) {
                    receivedLsn = received;
                    lastReceivedAt = now;
                }
                if (slot.receivedLsn().isPresent() && received >= slot.serverLsn()) {
                    lastReceivedAt = now; // caught up: nothing is missing, however long the server has been idle
                }
                lag = received < 0 ? 0 : Math.max(0, slot.serverLsn() - received);
                if (retained > target.pitr().slotAlertBytes() && !slotOverAlert) {
                    log.warn("target {}: slot {} holds back {} of WAL on the server (pitr.slot-alert {})", target.name(),
                            target.pitr().slot(), io.backstop.files.Sizes.bytes(retained),
                            io.backstop.files.Sizes.bytes(target.pitr().slotAlertBytes()));
                }
                slotOverAlert = retained > target.pitr().slotAlertBytes();
            }
            Window window;
            List<BaseBackups.Base> kept = bases.list();
            try {
                window = Window.of(kept, archive, gaps.list(), lastReceivedAt);
            } catch (java.io.IOException e) {
                problem = "cannot check the WAL archive: " + e.getMessage();
                window = new Window(null, lastReceivedAt, List.of(problem), true, kept.size(), 0, 0);
            }
            Instant newestBase = kept.isEmpty() ? null : kept.get(kept.size() - 1).finishedAt();
            boolean due = window.from() == null
                    || newestBase == null || newestBase.plus(target.pitr().baseBackupEvery()).isBefore(now);
            if (due && (baseFailedAt == null || baseFailedAt.plus(BASE_RETRY).isBefore(now))
                    && baseRunning.compareAndSet(false, true)) {
                baseBackups.submit(() -> {
                    try {
                        baseBackup();
                    } catch (RuntimeException e) {
                        // logged by baseBackup
                    } finally {
                        baseRunning.set(false);
                    }
                });
            }
            Duration down = receiver.downSince() == null ? Duration.ZERO : Duration.between(receiver.downSince(), now);
            boolean stale = Duration.between(lastReceivedAt, now).compareTo(target.pitr().maxLag()) > 0
                    && (lag > 0 || down.compareTo(target.pitr().maxLag()) > 0);
            // Streaming once the server holds the slot for pg_receivewal, not as soon as it started: until then
            // the slot is free (an operator's pitr drop-slot would take it), and nothing is being received.
            boolean streaming = receiver.runningSince() != null && slot != null && slot.active();
            if (problem == null && !streaming) {
                problem = receiver.lastError() == null ? "WAL streaming is starting" : receiver.lastError();
            }
            if (problem == null && baseError != null && window.from() == null) {
                problem = baseError;
            }
            listener.pitr(target.name(), new Status(lastReceivedAt, lag, retained, newestBase, window, stale,
                    streaming, problem));
        }

        /** Another node streams: the window as the shared archive says, for this node's /health and /metrics. */
        private void elsewhere() {
            Window window;
            List<BaseBackups.Base> kept = bases.list();
            Instant last;
            try {
                last = archive.lastWritten().orElse(null);
                window = Window.of(kept, archive, gaps.list(), last);
            } catch (java.io.IOException e) {
                return; // being written by its streaming node this moment: the next tick reads it
            }
            Instant newestBase = kept.isEmpty() ? null : kept.get(kept.size() - 1).finishedAt();
            listener.pitr(target.name(), new Status(last, 0, 0, newestBase, window, false, true,
                    window.from() == null ? "streamed by another node of the fleet; no window yet" : null));
        }

        BaseBackups.Base baseBackup() {
            try {
                BaseBackups.Base base = bases.take(target);
                baseFailedAt = null;
                baseError = null;
                bases.prune(target.pitr().baseBackupKeep());
                List<BaseBackups.Base> kept = bases.list();
                if (!kept.isEmpty()) {
                    BaseBackups.Base oldest = kept.get(0);
                    long segmentSize = archive.segmentSize();
                    int pruned = archive.prune(Wal.segnoOf(oldest.start(), segmentSize), segmentSize);
                    if (pruned > 0) {
                        log.info("WAL archive of {}: {} files older than base backup {} removed", target.name(), pruned,
                                oldest.name());
                    }
                    gaps.forgetBefore(oldest.startedAt());
                }
                return base;
            } catch (BackstopException | java.io.IOException e) {
                baseFailedAt = clock.instant();
                baseError = "base backup failed: " + e.getMessage();
                log.warn("target {}: {} (retried in {} min)", target.name(), baseError, BASE_RETRY.toMinutes());
                throw e instanceof BackstopException b ? b
                        : new BackstopException(io.backstop.ExitCode.DUMP_FAILED, baseError, e);
            }
        }

        private Connection connection() throws SQLException {
            if (connection == null || connection.isClosed()) {
                connection = new Database(target).connect();
            }
            return connection;
        }

        void closeConnection() {
            try {
                if (connection != null) {
                    connection.close();
                }
            } catch (SQLException ignored) {
                // gone already
            }
            connection = null;
        }
    }
}
