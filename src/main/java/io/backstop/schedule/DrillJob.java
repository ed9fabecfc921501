package io.backstop.schedule;

import io.backstop.BackstopException;
import io.backstop.catalog.Catalog;
import io.backstop.config.Settings.Target;
import io.backstop.restore.Resolver;
import io.backstop.verify.Drill;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.InterruptableJob;
import org.quartz.JobExecutionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The scheduled restore drill (every {@code restore-drill.every}) of a target's newest verified backup. */
@DisallowConcurrentExecution
final class DrillJob implements InterruptableJob {
    private static final Logger log = LoggerFactory.getLogger(DrillJob.class);

    private final Target target;
    private final Drill drill;
    private final Catalog catalog;
    private final Reporter reporter;
    private volatile Thread runner;

    DrillJob(Target target, Drill drill, Catalog catalog, Reporter reporter) {
        this.target = target;
        this.drill = drill;
        this.catalog = catalog;
        this.reporter = reporter;
    }

    @Override
    public void execute(JobExecutionContext context) {
        runner = Thread.currentThread();
        long started = System.nanoTime();
        try {
            // The scheduled sha256 re-read of every backup: bit rot changes neither size nor time.
            long damaged = catalog.scan(target.name());
            reporter.damaged(target.name(), damaged);
            if (damaged > 0) {
                log.warn("{} backups of target {} no longer match their manifests (backstop list shows them as"
                        + " DAMAGED); they are not counted by retention. Move them away and check the disk.", damaged,
                        target.name());
            }
            var newest = catalog.newestVerified(target.name());
            if (newest.isEmpty()) {
                log.info("restore drill of target {}: no verified backup yet", target.name());
                return;
            }
            Drill.Result r = drill.run(target, new Resolver.Resolved(newest.get().file(), newest.get().manifest().orElseThrow()));
            reporter.drilled(target.name(), r);
            if (target.pitr().enabled()) {
                reporter.pitrDrilled(target.name(), drill.pitr(target,
                        new Resolver.Resolved(newest.get().file(), newest.get().manifest().orElseThrow())));
            }
        } catch (BackstopException e) {
            log.warn("restore drill of target {} could not run: {}", target.name(), e.getMessage());
            // Seen on /health (DRILL_NOT_RUN) and in the metric (-2), not only in the log.
            reporter.drilled(target.name(), Drill.Result.notRun(e.getMessage(),
                    java.time.Duration.ofNanos(System.nanoTime() - started)));
        } finally {
            runner = null;
        }
    }

    @Override
    public void interrupt() {
        Thread t = runner;
        if (t != null) {
            t.interrupt();
        }
    }
}
