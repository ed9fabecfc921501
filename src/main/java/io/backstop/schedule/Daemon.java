package io.backstop.schedule;

import io.backstop.Background;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.backup.Backup;
import io.backstop.backup.BackupCycle;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Latest;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.files.TargetLock;
import io.backstop.retention.Prune;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.Map;
import java.util.Optional;
import java.util.TimeZone;
import org.quartz.CronExpression;
import org.quartz.CronScheduleBuilder;
import org.quartz.JobBuilder;
import org.quartz.JobDetail;
import org.quartz.JobKey;
import org.quartz.Scheduler;
import org.quartz.SchedulerException;
import org.quartz.Trigger;
import org.quartz.TriggerBuilder;
import org.quartz.impl.StdSchedulerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The long-running service: one Quartz job per target on the configured cron schedule and
 * time zone. Start-up sweeps each target's leftovers and, where the newest verified backup
 * is older than one schedule interval (or missing), takes one at once. Targets run on their
 * own worker threads, so one failing or slow target never delays another.
 */
public final class Daemon {
    private static final Logger log = LoggerFactory.getLogger(Daemon.class);
    private static final String GROUP = "backups";
    private static final String CHECKS = "checks";
    private static final String DRILLS = "drills";
    private static final String OFFSITE = "offsite";
    private static final String DISCOVERY = "discovery";

    private final Settings settings;
    private final Backup backup;
    private final io.backstop.counts.Check check;
    private final Prune rotation;
    private final io.backstop.verify.Drill drill;
    private final BackupLayout layout;
    private final Catalog catalog;
    private final Reporter reporter;
    private final IncidentSearch incidents;
    private final Clock clock;
    private final Map<String, BackupJob> jobs = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, CheckJob> checks = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, DrillJob> drills = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, OffsiteJob> offsiteJobs = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, org.quartz.Job> jobsByGroup = new java.util.concurrent.ConcurrentHashMap<>();
    /** Asks each databases family's server for its databases; adds the new ones to the targets. */
    private final java.util.function.Supplier<java.util.List<Target>> discover;
    /** What follows a backup of each target, whoever took it: its offsite copy, started at once. */
    private final Map<String, Runnable> afterBackups = new java.util.concurrent.ConcurrentHashMap<>();
    private final Optional<io.backstop.offsite.Offsite> offsite;
    private final Optional<OffsiteProcess> offsiteProcess;
    private final io.backstop.pitr.Pitr pitr;
    private final Optional<io.backstop.pitr.WalOffsite> walOffsite;
    private Scheduler scheduler;

    public Daemon(Settings settings, Backup backup, io.backstop.counts.Check check, Prune rotation,
            io.backstop.verify.Drill drill, BackupLayout layout, Catalog catalog,
            Optional<io.backstop.offsite.Offsite> offsite, Optional<OffsiteProcess> offsiteProcess,
            Optional<io.backstop.pitr.WalOffsite> walOffsite, io.backstop.pitr.Pitr pitr, Reporter reporter,
            Clock clock, io.backstop.recover.PointInTime pointInTime, io.backstop.counts.StateStore states,
            java.util.function.Supplier<java.util.List<Target>> discover) {
        this.discover = discover;
        this.incidents = new IncidentSearch(pointInTime, states, reporter, clock);
        this.walOffsite = walOffsite;
        this.pitr = pitr;
        this.drill = drill;
        this.offsite = offsite;
        this.offsiteProcess = offsiteProcess;
        this.settings = settings;
        this.backup = backup;
        this.check = check;
        this.rotation = rotation;
        this.layout = layout;
        this.catalog = catalog;
        this.reporter = reporter;
        this.clock = clock;
    }

    /** The time between two slots of the schedule, measured from now. */
    public static Duration interval(String cron, java.time.ZoneId zone, Instant now) {
        try {
            CronExpression expression = new CronExpression(cron);
            expression.setTimeZone(TimeZone.getTimeZone(zone));
            Date first = expression.getNextValidTimeAfter(Date.from(now));
            Date second = first == null ? null : expression.getNextValidTimeAfter(first);
            if (second == null) {
                throw new BackstopException(ExitCode.USAGE, "backstop.schedule: \"" + cron + "\" never fires twice");
            }
            return Duration.between(first.toInstant(), second.toInstant());
        } catch (ParseException e) {
            throw new BackstopException(ExitCode.USAGE, "backstop.schedule: \"" + cron + "\" is not a Quartz cron"
                    + " expression: " + e.getMessage(), e);
        }
    }

    public synchronized void start() {
        Duration interval = interval(settings.schedule(), settings.timezone(), clock.instant());
        backup.checkTools();
        for (Target t : settings.targets()) {
            // A server newer than every client here is refused now (exit 7), with the build argument that fixes it.
            backup.clientFor(t).ifPresentOrElse(d -> log.info("target {}: {}", t.name(), d),
                    () -> log.info("target {}: not reachable now; its client is chosen at its first backup", t.name()));
        }
        // In a fleet another node may be running a job of the target right now: its leftovers are then swept by
        // the target's next backup, and this node starts without waiting for that job.
        Duration sweepWait = settings.cluster().isPresent() ? Duration.ofSeconds(2) : Duration.ofMinutes(1);
        for (Target t : settings.targets()) {
            try (TargetLock lock = TargetLock.acquire(layout.lockFile(t.name()), t.name(), sweepWait)) {
                backup.sweep(t.name());
                // A cycle stopped between its backup and its end left latest.dump one behind: point it right.
                new Latest(layout, catalog.manifests()).refresh(t.name());
            } catch (BackstopException e) {
                if (e.code() != ExitCode.BUSY || settings.cluster().isEmpty()) {
                    throw e;
                }
                log.info("target {}: a job of it runs on another node; its next backup sweeps its leftovers", t.name());
            }
            if (!settings.restoreDrill().every().isZero()) {
                drill.sweep(t); // scratch databases of a drill that was interrupted
            }
        }
        try {
            // A family's databases found later need threads too: room for a few dozen beside the configured targets.
            scheduler = new StdSchedulerFactory(QuartzSetup.properties(settings, settings.targets().size()
                    + (settings.families().isEmpty() ? 0 : 32))).getScheduler();
            scheduler.setJobFactory((bundle, s) -> {
                JobKey key = bundle.getJobDetail().getKey();
                org.quartz.Job job = job(key);
                if (job == null && !settings.families().isEmpty()) {
                    discover.get(); // in a fleet another node may have found this database first
                    job = job(key);
                }
                return job != null ? job : context -> log.warn("{} of target {}: not a target of this node's"
                        + " configuration (every node of a fleet must run the same one); left to the next slot",
                        key.getGroup(), key.getName());
            });
            for (Target t : settings.targets()) {
                schedule(t, interval);
            }
            discoveries(interval);
            scheduler.start();
            for (Target t : settings.targets()) {
                Optional<Instant> newest = catalog.newestVerified(t.name()).map(Catalog.Entry::started);
                boolean behind = newest.isEmpty() || newest.get().isBefore(clock.instant().minus(interval));
                Trigger next = scheduler.getTrigger(org.quartz.TriggerKey.triggerKey(t.name(), GROUP));
                log.info("target {} ({}): {}; next scheduled backup {}", t.name(), t.describe(),
                        newest.map(n -> "newest verified backup " + n).orElse("no verified backup yet"),
                        next.getNextFireTime().toInstant());
                if (behind) {
                    log.info("target {}: newest verified backup is older than one interval ({}); taking one now",
                            t.name(), interval);
                    backupNow(t);
                }
            }
            pitr.start(this::afterBackup); // a completed WAL segment goes offsite at once, as a backup does
            log.info("daemon started: {} {}, schedule \"{}\" ({}), backups in {}", settings.targets().size(),
                    settings.targets().size() == 1 ? "target" : "targets", settings.schedule(), settings.timezone(),
                    layout.root());
        } catch (SchedulerException e) {
            throw new BackstopException(ExitCode.INTERNAL, "cannot start the scheduler: " + e.getMessage(), e);
        }
    }

    private org.quartz.Job job(JobKey key) {
        return switch (key.getGroup()) {
            case GROUP -> jobs.get(key.getName());
            case CHECKS -> checks.get(key.getName());
            case OFFSITE -> offsiteJobs.get(key.getName());
            case DISCOVERY -> jobsByGroup.get(DISCOVERY);
            default -> drills.get(key.getName());
        };
    }

    /**
     * A backup of {@code t} now, outside the schedule. In a fleet as a trigger of one name per target, stored
     * once however many nodes ask at once: a fleet starting together takes one catch-up backup, not one per node.
     */
    private void backupNow(Target t) throws SchedulerException {
        if (settings.cluster().isEmpty()) {
            scheduler.triggerJob(JobKey.jobKey(t.name(), GROUP));
            return;
        }
        try {
            scheduler.scheduleJob(TriggerBuilder.newTrigger().withIdentity("now:" + t.name(), GROUP)
                    .forJob(JobKey.jobKey(t.name(), GROUP)).startNow()
                    .withSchedule(org.quartz.SimpleScheduleBuilder.simpleSchedule()
                            .withMisfireHandlingInstructionFireNow())
                    .build());
        } catch (org.quartz.ObjectAlreadyExistsException e) {
            log.info("target {}: another node of the fleet already asked for this backup", t.name());
        }
    }

    /** One target's jobs: its backups on the schedule, its checks, drills and offsite copies. */
    private void schedule(Target t, Duration interval) throws SchedulerException {
        checks.put(t.name(), new CheckJob(t, check, reporter, incidents));
        JobDetail checkDetail = JobBuilder.newJob(CheckJob.class).withIdentity(t.name(), CHECKS).storeDurably().build();
        add(checkDetail, TriggerBuilder.newTrigger().withIdentity(t.name(), CHECKS)
                .startAt(Date.from(clock.instant().plus(settings.rowCounts().checkInterval())))
                .withSchedule(org.quartz.SimpleScheduleBuilder.simpleSchedule()
                        .withIntervalInMilliseconds(settings.rowCounts().checkInterval().toMillis())
                        .repeatForever().withMisfireHandlingInstructionNextWithRemainingCount())
                .build());
        if (!settings.restoreDrill().every().isZero()) {
            drills.put(t.name(), new DrillJob(t, drill, catalog, reporter));
            Duration every = settings.restoreDrill().every();
            Duration first = every.compareTo(Duration.ofMinutes(10)) < 0 ? every : Duration.ofMinutes(10);
            add(JobBuilder.newJob(DrillJob.class).withIdentity(t.name(), DRILLS).build(),
                    TriggerBuilder.newTrigger().withIdentity(t.name(), DRILLS)
                            .startAt(Date.from(clock.instant().plus(first)))
                            .withSchedule(org.quartz.SimpleScheduleBuilder.simpleSchedule()
                                    .withIntervalInMilliseconds(every.toMillis()).repeatForever()
                                    .withMisfireHandlingInstructionNextWithRemainingCount())
                            .build());
        }
        Runnable afterBackup = () -> { };
        if (offsite.isPresent()) {
            OffsiteJob job = new OffsiteJob(t, offsite.get(),
                    t.pitr().enabled() ? walOffsite : Optional.empty(), offsiteProcess.orElseThrow(), reporter, clock);
            offsiteJobs.put(t.name(), job);
            add(JobBuilder.newJob(OffsiteJob.class).withIdentity(t.name(), OFFSITE).build(),
                    TriggerBuilder.newTrigger().withIdentity(t.name(), OFFSITE).startNow()
                            .withSchedule(org.quartz.SimpleScheduleBuilder.simpleSchedule()
                                    .withIntervalInMilliseconds(
                                            OffsiteJob.tick(offsite.get().settings().interval()).toMillis()).repeatForever()
                                    .withMisfireHandlingInstructionNextWithRemainingCount())
                            .build());
            afterBackup = () -> {
                job.nudge();
                try {
                    scheduler.triggerJob(JobKey.jobKey(t.name(), OFFSITE));
                } catch (SchedulerException e) {
                    log.warn("offsite {}: could not start the copy now ({}); the next tick does", t.name(),
                            e.getMessage());
                }
            };
        }
        afterBackups.put(t.name(), afterBackup);
        jobs.put(t.name(), new BackupJob(t, new BackupCycle(backup, check, rotation, layout, catalog.manifests()), reporter, clock,
                interval, afterBackup, incidents));
        // In a fleet a backup that was running on a node that died is run again by another.
        JobDetail detail = JobBuilder.newJob(BackupJob.class).withIdentity(t.name(), GROUP).storeDurably()
                .requestRecovery(settings.cluster().isPresent()).build();
        // Misfires: alone, a slot missed while the daemon was down is caught up at start (below); in a fleet a
        // slot missed because every node was busy or down is taken once as soon as a node can (never once per slot).
        CronScheduleBuilder cron = CronScheduleBuilder.cronSchedule(settings.schedule())
                .inTimeZone(TimeZone.getTimeZone(settings.timezone()));
        Trigger trigger = TriggerBuilder.newTrigger().withIdentity(t.name(), GROUP)
                .withSchedule(settings.cluster().isPresent() ? cron.withMisfireHandlingInstructionFireAndProceed()
                        : cron.withMisfireHandlingInstructionDoNothing())
                .build();
        add(detail, trigger);
    }

    /**
     * With {@code databases} families: their servers are asked for their databases at every scheduled run, and
     * each new one becomes a target with its jobs and a first backup at once.
     */
    private void discoveries(Duration interval) throws SchedulerException {
        if (settings.families().isEmpty()) {
            return;
        }
        settings.liveTargets().onAdd(t -> {
            synchronized (this) {
                if (scheduler == null) {
                    return;
                }
                try {
                    schedule(t, interval);
                    log.info("target {} ({}): a new database of its family; taking its first backup now", t.name(),
                            t.describe());
                    backupNow(t);
                } catch (SchedulerException e) {
                    log.error("target {}: could not schedule it: {}", t.name(), e.getMessage());
                }
            }
        });
        jobsByGroup.put(DISCOVERY, new DiscoveryJob(discover));
        add(JobBuilder.newJob(DiscoveryJob.class).withIdentity("databases", DISCOVERY).build(),
                TriggerBuilder.newTrigger().withIdentity("databases", DISCOVERY)
                        .withSchedule(CronScheduleBuilder.cronSchedule(settings.schedule())
                                .inTimeZone(TimeZone.getTimeZone(settings.timezone()))
                                .withMisfireHandlingInstructionFireAndProceed())
                        .build());
    }

    /**
     * What follows a backup of {@code target} taken outside the schedule ({@code POST /backup}): the same as
     * after a scheduled one, its offsite copy started at once on the offsite job's thread.
     */
    public void afterBackup(String target) {
        afterBackups.getOrDefault(target, () -> { }).run();
    }

    /**
     * Stops scheduling, interrupts running backups (pg_dump is killed, its temporary file
     * removed) and waits at most {@code bound} for them to end.
     */
    public synchronized void stop(Duration bound) {
        if (scheduler == null) {
            return;
        }
        log.info("stopping: no new backups; interrupting running ones");
        try {
            scheduler.standby();
            for (String name : jobs.keySet()) {
                scheduler.interrupt(JobKey.jobKey(name, GROUP));
            }
            for (String name : offsiteJobs.keySet()) {
                scheduler.interrupt(JobKey.jobKey(name, OFFSITE));
            }
            Thread waiter = Background.start("backstop-scheduler-shutdown", () -> {
                try {
                    scheduler.shutdown(true);
                } catch (SchedulerException e) {
                    log.warn("scheduler shutdown: {}", e.getMessage());
                }
            });
            waiter.join(bound.toMillis());
            if (waiter.isAlive()) {
                log.warn("a backup did not stop within {}; exiting anyway (its temporary file is swept at the next start)",
                        bound);
            }
        } catch (SchedulerException e) {
            log.warn("scheduler stop: {}", e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        scheduler = null;
        incidents.close();
        pitr.close(); // pg_receivewal ends; what it completed is recorded
        for (Target t : settings.targets()) {
            try {
                new Latest(layout, catalog.manifests()).refresh(t.name()); // nothing runs now: a stopped cycle's link
            } catch (RuntimeException e) {
                log.warn("could not update latest of target {}: {}", t.name(), e.getMessage());
            }
        }
        log.info("stopped");
    }

    /** Schedules {@code detail} with {@code trigger}; in a fleet, replacing what another node stored for it. */
    private void add(JobDetail detail, Trigger trigger) throws SchedulerException {
        if (settings.cluster().isPresent()) {
            // A node joining keeps what the fleet runs on the same schedule (a check's next run is not put off by
            // every restart), and replaces a schedule that changed.
            Trigger stored = scheduler.getTrigger(trigger.getKey());
            if (stored != null && QuartzSetup.sameSchedule(stored, trigger) && scheduler.checkExists(detail.getKey())) {
                return;
            }
            scheduler.scheduleJob(detail, java.util.Set.of(trigger), true);
        } else {
            scheduler.scheduleJob(detail, trigger);
        }
    }
}
