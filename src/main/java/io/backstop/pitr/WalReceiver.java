package io.backstop.pitr;

import io.backstop.Background;
import io.backstop.BackstopException;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Database;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * pg_receivewal for one target as a supervised child: it streams through the target's physical slot
 * (created when missing) into the archive's {@code .incoming} directory, flushing each write
 * ({@code --synchronous}: each write flushed and reported at once, so the slot lets the server drop its copy
 * promptly and the lag stays in milliseconds. Without it pg_receivewal fsyncs once a segment: measured beside
 * pgbench on one 2-core host, p99 lag 1.05 s and 96 MB behind against 13 ms and 0.2 MB, for 0.73x instead
 * of 0.65x of pgbench's TPS; docs/benchmarks.md). When it ends it
 * is started again with backoff (1 s doubling to a minute; a run that lasted a minute resets it). Its
 * lines go to Backstop's log; it dies with this JVM (see {@link ProcessRunner}) and is killed by
 * {@link #stop}. A slot the server lost, or WAL the server no longer has, is a gap: what was
 * received is kept, the slot is made again and streaming starts where the server now is.
 */
public final class WalReceiver {
    private static final Logger log = LoggerFactory.getLogger(WalReceiver.class);
    private static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);
    private static final Duration MAX_BACKOFF = Duration.ofMinutes(1);

    private final Target target;
    private final PgTools tools;
    private final WalArchive archive;
    private final Gaps gaps;
    private final BaseBackups bases;
    private final Clock clock;
    private volatile boolean stopping;
    private volatile Instant runningSince;
    private volatile Instant downSince;
    private volatile String lastError;
    private volatile boolean gapPending;
    private Thread thread;

    public WalReceiver(Target target, PgTools tools, WalArchive archive, BaseBackups bases, Gaps gaps, Clock clock) {
        this.bases = bases;
        this.target = target;
        this.tools = tools;
        this.archive = archive;
        this.gaps = gaps;
        this.clock = clock;
        this.downSince = clock.instant();
    }

    public synchronized void start() {
        if (thread == null) {
            stopping = false;
            thread = Background.start("wal-receiver-" + target.name(), this::supervise);
        }
    }

    /** Stops the child and the supervisor; returns once both are gone (or {@code bound} passed). */
    public void stop(Duration bound) {
        Thread t;
        synchronized (this) {
            stopping = true;
            t = thread;
            thread = null;
        }
        if (t != null) {
            t.interrupt();
            try {
                t.join(bound.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The monitor saw the slot lost: the next start makes a new one after keeping what arrived. */
    void slotLost() {
        gapPending = true;
        Thread t = thread;
        if (t != null) {
            t.interrupt(); // ends the current pg_receivewal (it cannot get the WAL it wants anyway)
        }
    }

    /** Since when pg_receivewal has been streaming; null while it is not. */
    public Instant runningSince() {
        return runningSince;
    }

    /** Since when it has not been streaming; null while it is. */
    public Instant downSince() {
        return downSince;
    }

    public String lastError() {
        return lastError;
    }

    private void supervise() {
        Duration backoff = FIRST_BACKOFF;
        while (!stopping) {
            Instant began = clock.instant();
            try {
                prepare();
                runOnce();
            } catch (BackstopException e) {
                lastError = e.getMessage();
                log.warn("WAL streaming of {} stopped: {}", target.name(), e.getMessage());
            } catch (RuntimeException e) {
                lastError = String.valueOf(e.getMessage());
                log.warn("WAL streaming of {} stopped unexpectedly", target.name(), e);
            }
            if (runningSince != null) {
                runningSince = null;
                downSince = clock.instant();
            }
            if (stopping) {
                break;
            }
            Thread.interrupted(); // an interrupt from slotLost() ends one run, not the supervisor
            if (Duration.between(began, clock.instant()).compareTo(MAX_BACKOFF) > 0 || gapPending) {
                backoff = FIRST_BACKOFF;
            }
            log.info("WAL streaming of {}: starting pg_receivewal again in {} s", target.name(), backoff.toSeconds());
            try {
                Thread.sleep(backoff.toMillis());
            } catch (InterruptedException e) {
                if (stopping) {
                    break;
                }
            }
            backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
        }
        log.info("WAL streaming of {} stopped", target.name());
    }

    /** The slot exists and is usable; after a gap, what arrived is archived and the slot made anew. */
    private void prepare() {
        String slot = target.pitr().slot();
        try (Connection c = new Database(target).connect()) {
            newCluster(io.backstop.catalog.ServerInfo.read(c).systemIdentifier());
            Slot.State state = Slot.read(c, slot);
            boolean dropped = !state.exists() && archive.entries().stream().anyMatch(WalArchive.Entry::isSegment);
            // (after newCluster: a new cluster's missing slot is a first start, not a dropped one)
            if (state.lost() || dropped || gapPending) {
                gaps.record(state.lost()
                        ? "replication slot " + slot + " was lost: the server removed WAL it held"
                                + " (max_slot_wal_keep_size) before it was received"
                        : dropped ? "replication slot " + slot + " was dropped on the server: WAL written while it"
                                + " was gone may have been removed before it was received"
                        : "the server no longer had the WAL streaming needed", Wal.lsn(state.serverLsn()));
                archive.retireIncoming();
                if (state.exists()) {
                    Slot.drop(c, slot);
                }
                state = Slot.read(c, slot);
                gapPending = false;
            }
            if (!state.exists()) {
                Slot.create(c, slot);
                log.info("created physical replication slot {} on {} for WAL streaming", slot, target.describe());
            }
        } catch (SQLException e) {
            throw new BackstopException(io.backstop.ExitCode.DATABASE_UNREACHABLE, "target " + target.name()
                    + ": cannot read or create replication slot " + slot + ": "
                    + io.backstop.pg.Redactor.redact(String.valueOf(e.getMessage())), e);
        } catch (java.io.IOException e) {
            throw io.backstop.files.Durable.storageError("WAL archive of " + target.name(), e);
        }
    }

    /**
     * A server with another system identifier is another cluster (a recreated volume, a restore, a new
     * server): its WAL must not mix with the old one's, which may be all that can bring the old data back.
     * The old archive and base backups are set aside whole, and a new window starts.
     */
    private void newCluster(String systemIdentifier) throws java.io.IOException {
        if (systemIdentifier == null) {
            return; // pg_control_system() revoked for this role: the slot's state is all there is to go by
        }
        java.util.Optional<String> known = archive.systemIdentifier();
        if (known.isPresent() && !known.get().equals(systemIdentifier)) {
            Path wal = archive.setAside(known.get());
            Path base = bases.setAside(known.get());
            gaps.record("the server is another cluster now (system identifier " + systemIdentifier + ", was "
                    + known.get() + "): the old cluster's WAL and base backups are kept in " + wal + " and " + base,
                    null);
        }
        if (known.isEmpty() || !known.get().equals(systemIdentifier)) {
            archive.systemIdentifier(systemIdentifier);
        }
    }

    private void runOnce() throws java.io.UncheckedIOException {
        Database db = new Database(target);
        ProcessRunner runner = new ProcessRunner();
        try (Database.PasswordFile passfile = db.passwordFile()) {
            java.nio.file.Files.createDirectories(archive.incoming());
            Map<String, String> env = new java.util.HashMap<>(db.libpqEnvironment(passfile, target.database()));
            env.put("PGAPPNAME", target.pitr().slot());
            List<String> command = new ArrayList<>(List.of(tools.tool("pg_receivewal").toString(),
                    "-D", archive.incoming().toString(), "--slot", target.pitr().slot(), "--synchronous",
                    "--no-loop", "--no-password", "--status-interval=1", "--verbose"));
            ProcessRunner.Spec spec = ProcessRunner.Spec.of(command, env, Duration.ofDays(36_500))
                    .withStderrReader(line -> {
                        if (line.contains("has already been removed")) {
                            gapPending = true; // the server no longer has what comes next: a gap
                        }
                        if (line.contains("finished segment") || line.contains("switched to timeline")) {
                            log.debug("pg_receivewal {}: {}", target.name(), line);
                        } else {
                            log.info("pg_receivewal {}: {}", target.name(), line);
                        }
                        return false;
                    });
            ProcessRunner.Result r = runner.run(spec, p -> {
                runningSince = clock.instant();
                downSince = null;
                lastError = null;
                log.info("WAL streaming of {} started: pg_receivewal through slot {} into {}", target.name(),
                        target.pitr().slot(), archive.incoming());
            });
            lastError = "pg_receivewal exited with code " + r.exitCode()
                    + (r.stderrTail().isBlank() ? "" : ": " + lastLine(r.stderrTail()));
            log.warn("WAL streaming of {}: {}", target.name(), lastError);
        } catch (java.io.IOException e) {
            throw io.backstop.files.Durable.storageError("WAL archive of " + target.name(), e);
        }
    }

    private static String lastLine(String text) {
        String[] lines = text.strip().split("\n");
        return lines[lines.length - 1].strip();
    }
}
