package io.backstop.schedule;

import io.backstop.Background;
import io.backstop.BackstopException;
import io.backstop.config.Settings.Target;
import io.backstop.counts.Check;
import io.backstop.counts.StateStore;
import io.backstop.counts.TargetState;
import io.backstop.recover.PointInTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * With PITR on, a raised data-loss alarm has its incident looked for at once: the commit that made the
 * drop, read from the archived WAL on a thread of its own (never delaying a check or a backup), kept
 * beside the archive and reported, so /health and {@code list} name it before anyone reads WAL. Not found
 * yet (its WAL still arriving): looked for again at a later check, at most once a minute.
 */
final class IncidentSearch {
    private static final Logger log = LoggerFactory.getLogger(IncidentSearch.class);
    private static final Duration RETRY = Duration.ofMinutes(1);

    private final PointInTime pointInTime;
    private final StateStore states;
    private final Reporter reporter;
    private final Clock clock;
    private final ExecutorService executor = Executors.newSingleThreadExecutor(Background.threads("incident-search"));
    private final Map<String, Instant> found = new ConcurrentHashMap<>();
    private final Map<String, Instant> tried = new ConcurrentHashMap<>();

    IncidentSearch(PointInTime pointInTime, StateStore states, Reporter reporter, Clock clock) {
        this.pointInTime = pointInTime;
        this.states = states;
        this.reporter = reporter;
        this.clock = clock;
    }

    /** After a check of {@code target}: looks for the incident of a raised alarm, unless found already. */
    void after(Target target, Check.Result result) {
        if (!target.pitr().enabled() || !result.alarmRaised() || result.alarm() == null) {
            return;
        }
        Instant raisedAt = result.alarm().raisedAt();
        Instant last = tried.get(target.name());
        if (raisedAt.equals(found.get(target.name())) || (last != null && last.isAfter(raisedAt)
                && Duration.between(last, clock.instant()).compareTo(RETRY) < 0)) {
            return;
        }
        tried.put(target.name(), clock.instant());
        executor.execute(() -> {
            try {
                TargetState state = states.read(target.name());
                if (state == null || !state.alarmRaised() || !raisedAt.equals(state.alarm().raisedAt())) {
                    return; // that alarm is over
                }
                pointInTime.find(target, state).ifPresentOrElse(incident -> {
                    found.put(target.name(), raisedAt);
                    reporter.incidentFound(target.name(), raisedAt, incident);
                }, () -> log.info("{}: the data-loss alarm's incident is not in the archived WAL yet; looked for"
                        + " again at a later check", target.name()));
            } catch (BackstopException e) {
                log.warn("{}: cannot look for the data-loss alarm's incident in the archived WAL: {}", target.name(),
                        e.getMessage());
            } catch (RuntimeException e) {
                log.error("{}: looking for the data-loss alarm's incident failed (a bug; please report it)",
                        target.name(), e);
            }
        });
    }

    void close() {
        executor.shutdownNow();
    }
}
