package io.backstop.schedule;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.backup.Backup;
import io.backstop.backup.BackupCycle;
import io.backstop.config.Settings.Target;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Set;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.InterruptableJob;
import org.quartz.JobExecutionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One target's scheduled backup: the same {@link Backup#run} the CLI uses, then rotation.
 * A failure is retried with doubling backoff while the slot lasts; a target that keeps
 * failing keeps its old backups and says so at WARN. Never overlaps itself.
 */
@DisallowConcurrentExecution
final class BackupJob implements InterruptableJob {
    private static final Logger log = LoggerFactory.getLogger(BackupJob.class);
    /** Errors a retry cannot fix: wait for the operator instead of hammering. */
    private static final Set<ExitCode> PERMANENT = EnumSet.of(ExitCode.USAGE, ExitCode.TOOLS);

    private final Target target;
    private final BackupCycle cycle;
    private final Reporter reporter;
    private final Clock clock;
    private final Duration interval;
    private volatile Thread runner;
    private volatile boolean interrupted;
    private int consecutiveFailures;
    private final Runnable afterBackup;
    private final IncidentSearch incidents;

    BackupJob(Target target, BackupCycle cycle, Reporter reporter, Clock clock, Duration interval) {
        this(target, cycle, reporter, clock, interval, () -> { }, null);
    }

    /** {@code incidents}: told of every check's result (null: none looked for). */
    BackupJob(Target target, BackupCycle cycle, Reporter reporter, Clock clock, Duration interval, Runnable afterBackup,
            IncidentSearch incidents) {
        this.incidents = incidents;
        this.afterBackup = afterBackup;
        this.target = target;
        this.cycle = cycle;
        this.reporter = reporter;
        this.clock = clock;
        this.interval = interval;
    }

    @Override
    public void execute(JobExecutionContext context) {
        runner = Thread.currentThread();
        interrupted = false;
        try {
            Instant deadline = context.getNextFireTime() != null ? context.getNextFireTime().toInstant()
                    : clock.instant().plus(interval);
            runWithRetries(deadline);
        } finally {
            runner = null;
        }
    }

    void runWithRetries(Instant deadline) {
        Duration backoff = initialBackoff(interval);
        Duration lockWait = min(interval.dividedBy(2), Duration.ofMinutes(10));
        while (!interrupted) {
            reporter.attempt(target.name(), clock.instant());
            try {
                BackupCycle.Result done = cycle.run(target, new Backup.Request(java.util.Optional.empty(), lockWait),
                        new LogProgress(target.name(), Duration.ofMinutes(1)));
                reporter.checked(target.name(), done.check());
                if (incidents != null) {
                    incidents.after(target, done.check());
                }
                if (consecutiveFailures > 0) {
                    log.info("backup {} recovered after {} failed attempts", target.name(), consecutiveFailures);
                }
                consecutiveFailures = 0;
                reporter.success(target.name(), done.backup(), done.rotation());
                afterBackup.run(); // the offsite copy, on its own thread: never delays or fails this backup
                return;
            } catch (BackstopException e) {
                if (interrupted || e.code() == ExitCode.INTERRUPTED) {
                    log.info("backup {} stopped: shutting down", target.name());
                    return;
                }
                consecutiveFailures++;
                reporter.failure(target.name(), e, consecutiveFailures);
                Instant retryAt = clock.instant().plus(backoff);
                boolean retry = !PERMANENT.contains(e.code()) && retryAt.isBefore(deadline);
                log.warn("backup {} failed (attempt {}, exit code {}): {}; earlier backups are kept. {}", target.name(),
                        consecutiveFailures, e.code().status(), e.getMessage(),
                        retry ? "Retrying in " + io.backstop.files.Sizes.seconds(backoff) + "."
                                : "Next try at the next scheduled slot; fix the cause shown above.");
                if (!retry || !sleep(backoff)) {
                    return;
                }
                backoff = min(backoff.multipliedBy(2), Duration.ofMinutes(15));
            } catch (RuntimeException e) {
                consecutiveFailures++;
                BackstopException wrapped = new BackstopException(ExitCode.INTERNAL, "internal error: " + e, e);
                reporter.failure(target.name(), wrapped, consecutiveFailures);
                log.error("backup {} failed with an internal error (a bug; please report it)", target.name(), e);
                return;
            }
        }
    }

    /** A tenth of the slot, at most 30 s: hourly retries at 30 s, 1 m, 2 m, ...; a 10 s test schedule at 1 s. */
    static Duration initialBackoff(Duration interval) {
        return min(interval.dividedBy(10), Duration.ofSeconds(30)).compareTo(Duration.ofMillis(200)) < 0
                ? Duration.ofMillis(200) : min(interval.dividedBy(10), Duration.ofSeconds(30));
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    private boolean sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
            return !interrupted;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Called by Quartz on shutdown: the running pg_dump is killed and its temporary file removed. */
    @Override
    public void interrupt() {
        interrupted = true;
        Thread t = runner;
        if (t != null) {
            t.interrupt();
        }
    }
}
