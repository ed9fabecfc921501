package io.backstop.notify;

import io.backstop.BackstopException;
import io.backstop.backup.BackupResult;
import io.backstop.config.Settings;
import io.backstop.counts.Check;
import io.backstop.http.Health;
import io.backstop.http.HealthState;
import io.backstop.retention.Prune;
import io.backstop.schedule.Reporter;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns what /health says into messages for people. After every event of the daemon, and every
 * {@link #TICK} (a backup goes stale without any event), it reads each target's problems: a new
 * one is announced, one that lasts is announced again every {@code notify.repeat}, one that ended
 * gets a "resolved" message. A backup failure counts once {@code notify.failures} happened in a
 * row. Announcing only queues: each channel sends on its own thread, so nothing here can delay
 * or fail a backup. Runs after {@link HealthState} has taken the same event.
 */
public final class Notifier implements Reporter, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Notifier.class);
    static final Duration TICK = Duration.ofSeconds(30);

    private record Key(String target, Event.Kind kind) {
    }

    private record Open(Instant since, Instant lastSent, Watch.Problem problem) {
    }

    private final Settings settings;
    private final Health health;
    private final HealthState state;
    private final Clock clock;
    private final List<Outbox> outboxes;
    private final Optional<Outbox> heartbeat;
    private final Map<Key, Open> open = new LinkedHashMap<>();
    /** Per target: whether the last check cleared the alarm by itself (the counts came back) rather than an ack. */
    private final Map<String, Boolean> clearedByCounts = new HashMap<>();
    private ScheduledExecutorService ticker;
    /** In a fleet one node speaks for all (they all see every target): the others stay silent. */
    private volatile java.util.function.BooleanSupplier speaks = () -> true;

    Notifier(Settings settings, HealthState state, Clock clock, List<Outbox> outboxes, Optional<Outbox> heartbeat) {
        this.settings = settings;
        this.state = state;
        this.clock = clock;
        this.health = new Health(settings, state, clock);
        this.outboxes = List.copyOf(outboxes);
        this.heartbeat = heartbeat;
    }

    /** The configured channels (and heartbeat), sending through their own queues; reports land in {@code state}. */
    public static Notifier of(Settings settings, HealthState state, Clock clock) {
        java.net.http.HttpClient client = HttpChannel.client();
        List<Outbox> boxes = new ArrayList<>();
        for (Channel c : Channels.of(settings.notifications(), client)) {
            boxes.add(new Outbox(c, Outbox.Policy.MESSAGES, state, clock));
        }
        Optional<Outbox> ping = settings.notifications().heartbeat().isPresent()
                ? Optional.of(new Outbox(new Heartbeat(settings.notifications().heartbeat(), client), Outbox.Policy.PINGS,
                        state, clock))
                : Optional.empty();
        return new Notifier(settings, state, clock, boxes, ping);
    }

    /** What one channel did with its test message: {@code error} null when it was delivered. */
    public record Tried(String channel, String description, String error) {
    }

    /**
     * Sends a test message on each channel (or the one named), here and now, one after another: what
     * {@code backstop notify --test} prints. The heartbeat is not pinged: a ping says a backup happened.
     */
    public static List<Tried> test(Settings settings, Optional<String> only, Clock clock) {
        Settings.Notify notify = settings.notifications();
        java.net.http.HttpClient client = HttpChannel.client();
        List<Tried> out = new ArrayList<>();
        Instant now = clock.instant();
        String targets = String.join(", ", settings.targets().stream().map(Settings.Target::name).toList());
        for (Settings.Channel c : notify.channels()) {
            if (only.isPresent() && !only.get().equals(c.name())) {
                continue;
            }
            Channel channel = Channels.of(c, client);
            Event event = Event.of(Event.Kind.TEST, Event.State.TEST, targets, now, now, "test message: channel "
                    + c.name() + " reaches you", List.of("This is a test from backstop notify --test.",
                    "Backstop sends here: " + Channels.describe(c) + ".",
                    "Targets: " + targets + "."), null, Map.of("channel", c.name()),
                    notify.baseUrl().map(b -> URI.create(b + "/")));
            try {
                channel.send(event);
                out.add(new Tried(c.name(), Channels.describe(c), null));
            } catch (Channel.DeliveryException e) {
                out.add(new Tried(c.name(), Channels.describe(c), e.getMessage()));
            }
        }
        return out;
    }

    /** Starts the senders and the periodic reading; logs which channels are configured. */
    public void start() {
        if (outboxes.isEmpty()) {
            log.info("notify: no channels configured: problems reach people only through /health, /metrics and the"
                    + " status page (README \"Notifications\")");
        } else {
            log.info("notify: {} channel{}: {}", outboxes.size(), outboxes.size() == 1 ? "" : "s",
                    String.join(", ", Channels.describe(settings.notifications())));
        }
        log.info("notify: heartbeat {}", heartbeat.isPresent() ? "on: requested after every backup (/fail after a"
                + " failed one)" : "off (notify.heartbeat-url)");
        outboxes.forEach(Outbox::start);
        heartbeat.ifPresent(Outbox::start);
        ticker = Executors.newSingleThreadScheduledExecutor(io.backstop.Background.threads("backstop-notify"));
        ticker.scheduleWithFixedDelay(this::tick, 0, TICK.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Reads every target's problems now; announces what began, lasts past {@code repeat}, or ended. */
    public void tick() {
        try {
            evaluate();
        } catch (RuntimeException e) {
            log.error("notify: reading the targets' problems failed", e);
        }
    }

    /** From now on problems are announced only while {@code speaker} says this node speaks for the fleet. */
    public void speaksWhen(java.util.function.BooleanSupplier speaker) {
        this.speaks = speaker;
    }

    private synchronized void evaluate() {
        if (!speaks.getAsBoolean()) {
            open.clear(); // the speaker announces them; should this node become it, it announces what is open then
            return;
        }
        Instant now = clock.instant();
        Health.Report report = health.evaluate();
        Duration repeat = settings.notifications().repeat();
        for (Health.TargetHealth th : report.targets()) {
            Settings.Target target = settings.target(th.target()).orElseThrow();
            Map<Event.Kind, Watch.Problem> current = Watch.problems(settings, target, th, state, now);
            for (Map.Entry<Event.Kind, Watch.Problem> e : current.entrySet()) {
                Key key = new Key(th.target(), e.getKey());
                Open was = open.get(key);
                if (was == null) {
                    open.put(key, new Open(now, now, e.getValue()));
                    announce(key, Event.State.PROBLEM, now, e.getValue());
                } else if (!repeat.isZero() && !now.isBefore(was.lastSent().plus(repeat))) {
                    open.put(key, new Open(was.since(), now, e.getValue()));
                    announce(key, Event.State.REPEAT, was.since(), e.getValue());
                } else {
                    open.put(key, new Open(was.since(), was.lastSent(), e.getValue()));
                }
            }
            for (var it = open.entrySet().iterator(); it.hasNext();) {
                Map.Entry<Key, Open> e = it.next();
                if (e.getKey().target().equals(th.target()) && !current.containsKey(e.getKey().kind())) {
                    it.remove();
                    resolved(e.getKey(), e.getValue(), now);
                }
            }
        }
    }

    private void announce(Key key, Event.State state, Instant since, Watch.Problem p) {
        Instant now = clock.instant();
        String title = state == Event.State.REPEAT ? p.title() + " (still, since " + io.backstop.files.Sizes.age(Duration.between(since,
                now)) + ")" : p.title();
        send(Event.of(key.kind(), state, key.target(), now, since, title, p.lines(), p.command(), p.details(),
                link(key.target())));
    }

    private void resolved(Key key, Open was, Instant now) {
        String how = switch (key.kind()) {
            case DATA_LOSS -> Boolean.TRUE.equals(clearedByCounts.get(key.target()))
                    ? "data-loss alarm cleared: the row counts came back" : "data-loss alarm acknowledged (backstop ack):"
                            + " the current counts are the new baseline";
            case BACKUP_FAILING -> "backups succeed again";
            case BACKUP_STALE -> "a fresh verified backup exists again";
            case BACKUP_DAMAGED -> "no damaged backup remains";
            case DRILL_FAILED -> "the restore drill passes again";
            case OFFSITE_STALE -> "offsite copies caught up";
            case WAL_STALE -> "WAL arrives again";
            case WAL_GAP -> "the recoverable window is continuous again";
            case WAL_RETENTION -> "the replication slot is below its alert threshold again";
            default -> "resolved";
        };
        List<String> lines = List.of("Resolved after " + io.backstop.files.Sizes.age(Duration.between(was.since(), now)) + ": it began at "
                + was.since() + ".", "Was: " + was.problem().title());
        send(Event.of(key.kind(), Event.State.RESOLVED, key.target(), now, was.since(), key.target() + ": resolved: "
                + how, lines, null, Map.of("was", was.problem().title()), link(key.target())));
    }

    private Optional<URI> link(String target) {
        return settings.notifications().baseUrl().map(b -> URI.create(b + "/#target-" + target));
    }

    private void send(Event event) {
        log.info("notify: {} {} of target {}: {}", event.kind().word(), event.state().word(), event.target(),
                event.title());
        for (Outbox box : outboxes) {
            if (box.channel().takes(event.kind())) {
                box.offer(event);
            }
        }
    }

    /** The problems announced and not yet resolved, as "target kind" (tests and the status page). */
    public synchronized List<String> open() {
        return open.keySet().stream().map(k -> k.target() + " " + k.kind().word()).toList();
    }

    @Override
    public void attempt(String target, Instant at) {
        tick();
    }

    @Override
    public void success(String target, BackupResult result, Prune.Result rotation) {
        heartbeat.ifPresent(h -> h.offer(Heartbeat.ping(target, true, clock.instant())));
        tick();
    }

    @Override
    public void failure(String target, BackstopException error, int consecutiveFailures) {
        heartbeat.ifPresent(h -> h.offer(Heartbeat.ping(target, false, clock.instant())));
        tick();
    }

    @Override
    public void checked(String target, Check.Result result) {
        synchronized (this) {
            clearedByCounts.put(target, result.cleared());
        }
        tick();
    }

    @Override
    public void incidentFound(String target, Instant alarmRaisedAt, io.backstop.pitr.Incidents.Incident incident) {
        tick();
    }

    @Override
    public void drilled(String target, io.backstop.verify.Drill.Result result) {
        tick();
    }

    @Override
    public void offsiteSynced(String target, io.backstop.offsite.Offsite.Status status) {
        tick();
    }

    @Override
    public void offsiteFailed(String target, BackstopException error, Instant waitingSince) {
        tick();
    }

    @Override
    public void damaged(String target, long count) {
        tick();
    }

    @Override
    public void pitrDrilled(String target, io.backstop.verify.PitrDrill.Result result) {
        tick();
    }

    @Override
    public void pitr(String target, io.backstop.pitr.Pitr.Status status) {
        tick();
    }

    @Override
    public void close() {
        if (ticker != null) {
            ticker.shutdownNow();
        }
        outboxes.forEach(Outbox::close);
        heartbeat.ifPresent(Outbox::close);
    }
}
