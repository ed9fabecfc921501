package io.backstop.schedule;

import io.backstop.BackstopException;
import io.backstop.config.Settings.Target;
import io.backstop.counts.Check;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.Job;
import org.quartz.JobExecutionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The row-count check between backups, every {@code row-counts.check-interval}. A database
 * that cannot be reached is not data loss: it is logged, and the backup job reports it.
 */
@DisallowConcurrentExecution
final class CheckJob implements Job {
    private static final Logger log = LoggerFactory.getLogger(CheckJob.class);

    private final Target target;
    private final Check check;
    private final Reporter reporter;
    private final IncidentSearch incidents;

    CheckJob(Target target, Check check, Reporter reporter, IncidentSearch incidents) {
        this.target = target;
        this.check = check;
        this.reporter = reporter;
        this.incidents = incidents;
    }

    @Override
    public void execute(JobExecutionContext context) {
        try {
            Check.Result result = check.run(target);
            reporter.checked(target.name(), result);
            incidents.after(target, result);
            if (result.drops().isEmpty()) {
                log.debug("row-count check {}: ok ({})", target.name(), result.method());
            }
        } catch (BackstopException e) {
            log.warn("row-count check of target {} failed: {}", target.name(), e.getMessage());
        } catch (RuntimeException e) {
            log.error("row-count check of target {} failed with an internal error (a bug; please report it)",
                    target.name(), e);
        }
    }
}
