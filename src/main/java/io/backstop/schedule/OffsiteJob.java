package io.backstop.schedule;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.config.Settings.Target;
import io.backstop.offsite.Offsite;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.JobExecutionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Offsite copies for one target: runs right after each backup (the backup job nudges it) and on
 * a short tick; does the work when something waits for a copy, or {@code offsite.interval} has
 * passed (for retention), or a failure's backoff (30 s, doubling up to the interval) is over. A
 * failure never touches local backups: it is counted, reported and tried again.
 */
@DisallowConcurrentExecution
final class OffsiteJob implements org.quartz.InterruptableJob {
    private static final Logger log = LoggerFactory.getLogger(OffsiteJob.class);
    /** How often the job looks at most; cheap (a directory listing) when nothing is due. */
    private static final Duration TICK = Duration.ofSeconds(15);

    static Duration tick(Duration interval) {
        return interval.compareTo(TICK) < 0 ? interval : TICK;
    }

    private final Target target;
    private final Offsite offsite;
    private final Optional<io.backstop.pitr.WalOffsite> wal;
    private final OffsiteProcess process;
    private final Reporter reporter;
    private final Clock clock;
    private final Duration interval;
    private volatile Instant nextAttempt = Instant.MIN;
    private volatile Instant lastSync = Instant.MIN;
    private volatile boolean nudged = true;
    private int consecutiveFailures;

    OffsiteJob(Target target, Offsite offsite, Optional<io.backstop.pitr.WalOffsite> wal, OffsiteProcess process,
            Reporter reporter, Clock clock) {
        this.target = target;
        this.offsite = offsite;
        this.wal = wal;
        this.process = process;
        this.reporter = reporter;
        this.clock = clock;
        this.interval = offsite.settings().interval();
    }

    /** A backup just finished: copy it now (unless a failure's backoff is still running). */
    void nudge() {
        nudged = true;
    }

    @Override
    public void execute(JobExecutionContext context) {
        Instant now = clock.instant();
        Optional<Instant> waiting;
        try {
            waiting = offsite.waitingSince(target.name());
            Optional<Instant> walWaiting = wal.flatMap(w -> w.waitingSince(target.name()));
            if (walWaiting.isPresent() && (waiting.isEmpty() || walWaiting.get().isBefore(waiting.get()))) {
                waiting = walWaiting; // the offsite lag covers WAL and base backups too
            }
        } catch (RuntimeException e) {
            waiting = Optional.empty(); // the sync below reports what is wrong
        }
        boolean backoffOver = !now.isBefore(nextAttempt);
        boolean due = backoffOver && (nudged || waiting.isPresent() || !now.isBefore(lastSync.plus(interval)));
        if (!due) {
            reporter.offsiteWaiting(target.name(), waiting.orElse(null));
            return;
        }
        nudged = false;
        try {
            Offsite.Status status = process.sync(target.name());
            if (consecutiveFailures > 0) {
                log.info("offsite {}: copies caught up after {} failed attempts", target.name(), consecutiveFailures);
            }
            consecutiveFailures = 0;
            nextAttempt = clock.instant();
            lastSync = nextAttempt;
            reporter.offsiteSynced(target.name(), status);
        } catch (BackstopException e) {
            if (e.code() == ExitCode.BUSY || e.code() == ExitCode.INTERRUPTED) {
                return; // a CLI command is copying right now, or the daemon is stopping
            }
            consecutiveFailures++;
            Duration backoff = backoff(consecutiveFailures, interval);
            nextAttempt = clock.instant().plus(backoff);
            reporter.offsiteFailed(target.name(), e, waiting.orElse(null));
            log.warn("offsite copy of target {} failed (attempt {}): {}; local backups are unaffected. Retrying in {}.",
                    target.name(), consecutiveFailures, e.getMessage(), io.backstop.files.Sizes.seconds(backoff));
        } catch (RuntimeException e) {
            consecutiveFailures++;
            nextAttempt = clock.instant().plus(backoff(consecutiveFailures, interval));
            reporter.offsiteFailed(target.name(), new BackstopException(ExitCode.INTERNAL, "internal error: " + e, e),
                    waiting.orElse(null));
            log.error("offsite copy of target {} failed with an internal error (a bug; please report it)",
                    target.name(), e);
        }
    }

    /** The daemon stops: the running copy is stopped (an upload in progress is aborted). */
    @Override
    public void interrupt() {
        process.stop();
    }

    /** 30 s, then doubling, never longer than the interval (and never shorter than a second). */
    static Duration backoff(int failures, Duration interval) {
        Duration d = Duration.ofSeconds(30).multipliedBy(1L << Math.min(failures - 1, 16));
        Duration capped = d.compareTo(interval) > 0 ? interval : d;
        return capped.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : capped;
    }
}
