package io.backstop.schedule;

import io.backstop.config.Settings.Target;
import java.util.List;
import java.util.function.Supplier;
import org.quartz.DisallowConcurrentExecution;
import org.quartz.Job;
import org.quartz.JobExecutionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** At every scheduled run: the databases each {@code databases} family's server has now; new ones become targets. */
@DisallowConcurrentExecution
final class DiscoveryJob implements Job {
    private static final Logger log = LoggerFactory.getLogger(DiscoveryJob.class);
    private final Supplier<List<Target>> discover;

    DiscoveryJob(Supplier<List<Target>> discover) {
        this.discover = discover;
    }

    @Override
    public void execute(JobExecutionContext context) {
        try {
            List<Target> added = discover.get();
            if (!added.isEmpty()) {
                log.info("databases: {} new: {}", added.size(), String.join(", ", added.stream().map(Target::name).toList()));
            }
        } catch (RuntimeException e) {
            log.error("databases: looking for new ones failed; the next run tries again", e);
        }
    }
}
