package io.backstop.notify;

import io.backstop.http.HealthState;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One channel's queue and the thread that empties it. {@link #offer} never blocks: a full queue
 * gives up its oldest message (counted). A message that cannot be delivered is retried, in order,
 * with backoff from {@code firstRetry} doubling up to {@code maxRetry}, until it is delivered or
 * older than {@code giveUpAfter}. An outage is logged once, when it begins and when it ends;
 * every failed attempt is counted ({@code backstop_notify_failures_total}) and shown on the status page.
 */
final class Outbox implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Outbox.class);

    record Policy(int capacity, Duration firstRetry, Duration maxRetry, Duration giveUpAfter) {
        static final Policy MESSAGES = new Policy(100, Duration.ofSeconds(1), Duration.ofMinutes(5), Duration.ofHours(24));
        /** A ping that is late says something untrue: only the newest waits, and not for long. */
        static final Policy PINGS = new Policy(1, Duration.ofSeconds(1), Duration.ofMinutes(1), Duration.ofMinutes(10));
    }

    private final Channel channel;
    private final Policy policy;
    private final HealthState state;
    private final Clock clock;
    private final LinkedBlockingDeque<Event> queue;
    private final CountDownLatch closed = new CountDownLatch(1);
    private final Thread thread;
    private volatile boolean failing;

    Outbox(Channel channel, Policy policy, HealthState state, Clock clock) {
        this.channel = channel;
        this.policy = policy;
        this.state = state;
        this.clock = clock;
        this.queue = new LinkedBlockingDeque<>(policy.capacity());
        state.notifyChannel(channel.name(), channel.type());
        this.thread = new Thread(this::run, "backstop-notify-" + channel.name());
        thread.setDaemon(true);
    }

    Channel channel() {
        return channel;
    }

    void start() {
        thread.start();
    }

    /** Queues {@code event} for delivery; returns at once. */
    void offer(Event event) {
        while (!queue.offerLast(event)) {
            if (queue.pollFirst() != null) {
                state.notifyDropped(channel.name());
                log.warn("notify: channel {} ({}): queue full ({} messages): the oldest was given up", channel.name(),
                        channel.type(), policy.capacity());
            }
        }
    }

    /** Messages waiting, the one being retried among them. */
    int pending() {
        return queue.size();
    }

    private void run() {
        try {
            while (closed.getCount() > 0) {
                Event event = queue.pollFirst(1, TimeUnit.SECONDS);
                if (event != null) {
                    deliver(event);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void deliver(Event event) throws InterruptedException {
        Duration backoff = policy.firstRetry();
        int attempts = 0;
        while (closed.getCount() > 0) {
            attempts++;
            try {
                channel.send(event);
                state.notifyDelivered(channel.name(), clock.instant());
                if (failing) {
                    failing = false;
                    log.info("notify: channel {} ({}) delivers again", channel.name(), channel.type());
                }
                return;
            } catch (Channel.DeliveryException e) {
                state.notifyFailed(channel.name(), e.getMessage(), clock.instant());
                if (!failing) {
                    failing = true;
                    log.warn("notify: channel {} ({}) cannot deliver: {}; retrying with backoff (further failures are"
                            + " counted in backstop_notify_failures_total and shown on the status page)",
                            channel.name(), channel.type(), e.getMessage());
                }
            } catch (RuntimeException e) {
                state.notifyFailed(channel.name(), e.getClass().getSimpleName(), clock.instant());
                log.error("notify: channel {} ({}): unexpected failure", channel.name(), channel.type(), e);
            }
            if (Duration.between(event.at(), clock.instant()).compareTo(policy.giveUpAfter()) > 0
                    || policy.capacity() == 1 && !queue.isEmpty()) {
                state.notifyDropped(channel.name());
                log.warn("notify: channel {} ({}): gave up on \"{}\" after {} attempts", channel.name(), channel.type(),
                        event.title(), attempts);
                return;
            }
            if (closed.await(backoff.toMillis(), TimeUnit.MILLISECONDS)) {
                return;
            }
            backoff = backoff.multipliedBy(2).compareTo(policy.maxRetry()) > 0 ? policy.maxRetry() : backoff.multipliedBy(2);
        }
    }

    /** Stops the thread: a message still waiting is not sent (the daemon is going away). */
    @Override
    public void close() {
        closed.countDown();
        thread.interrupt();
    }
}
