package io.backstop.schedule;

import io.backstop.config.Settings;
import java.util.Properties;
import org.quartz.Trigger;

/**
 * How the daemon's Quartz scheduler is set up: alone, in memory with a thread per job of every target; in a
 * fleet, on the clustered JDBC job store with this node's threads; and when a stored trigger is the same schedule.
 */
final class QuartzSetup {
    private QuartzSetup() {
    }

    static boolean sameSchedule(Trigger a, Trigger b) {
        if (a instanceof org.quartz.CronTrigger x && b instanceof org.quartz.CronTrigger y) {
            return x.getCronExpression().equals(y.getCronExpression()) && x.getTimeZone().equals(y.getTimeZone())
                    && x.getMisfireInstruction() == y.getMisfireInstruction();
        }
        if (a instanceof org.quartz.SimpleTrigger x && b instanceof org.quartz.SimpleTrigger y) {
            return x.getRepeatInterval() == y.getRepeatInterval() && x.getMisfireInstruction() == y.getMisfireInstruction();
        }
        return false;
    }

    static Properties properties(Settings settings, int targets) {
        if (settings.cluster().isPresent()) {
            io.backstop.fleet.ClusterStore.ensureSchema(settings.cluster().get());
            Properties p = local(targets, new Properties());
            p.remove("org.quartz.jobStore.class");
            p.remove("org.quartz.jobStore.misfireThreshold");
            p.remove("org.quartz.scheduler.instanceName");
            p.putAll(io.backstop.fleet.ClusterStore.quartz(settings.cluster().get(), settings.cluster().get().threads()));
            // A node runs as many jobs at once as it has threads; one that is busy acquires none, leaving the next
            // trigger to a node that can run it (how the work spreads).
            p.setProperty("org.quartz.threadPool.threadCount", Integer.toString(settings.cluster().get().threads()));
            // Each acquisition is a transaction under the job store's lock: a node takes as many due triggers in
            // one as it has free threads, not one per round trip (a hundred targets due at once, bench/fleet.sh).
            p.setProperty("org.quartz.scheduler.batchTriggerAcquisitionMaxCount",
                    Integer.toString(settings.cluster().get().threads()));
            return p;
        }
        return local(targets, new Properties());
    }

    private static Properties local(int targets, Properties p) {
        p.setProperty("org.quartz.scheduler.instanceName", "backstop");
        p.setProperty("org.quartz.scheduler.skipUpdateCheck", "true");
        p.setProperty("org.quartz.threadPool.class", "org.quartz.simpl.SimpleThreadPool");
        // A backup, a check, a drill and an offsite thread per target, so targets (and checks) never wait for each other.
        p.setProperty("org.quartz.threadPool.threadCount", Integer.toString(4 * targets + 1));
        p.setProperty("org.quartz.threadPool.threadNamePrefix", "backstop-worker");
        p.setProperty("org.quartz.jobStore.class", "org.quartz.simpl.RAMJobStore");
        p.setProperty("org.quartz.jobStore.misfireThreshold", "5000");
        p.setProperty("org.quartz.scheduler.interruptJobsOnShutdown", "true");
        return p;
    }
}
