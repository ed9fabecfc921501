package io.backstop.notify;

import java.net.URI;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * One message for people: a problem of one target began ({@link State#PROBLEM}), still lasts
 * ({@link State#REPEAT}), ended ({@link State#RESOLVED}), or a test. Every channel renders the same
 * event: {@code title} is one line, {@code lines} the facts, {@code command} what to run (may be null),
 * {@code details} the machine-readable facts of the webhook's body. Nothing in it is a secret.
 */
public record Event(String id, Kind kind, State state, String target, Instant at, Instant since, String title,
        List<String> lines, String command, Map<String, Object> details, Optional<URI> link) {
    public Event {
        lines = List.copyOf(lines);
        details = details == null ? Map.of() : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(details));
    }

    public enum State {
        PROBLEM, REPEAT, RESOLVED, TEST;

        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** What happened; {@link #word()} is the name a channel's {@code events} lists. */
    public enum Kind {
        DATA_LOSS, BACKUP_FAILING, BACKUP_STALE, BACKUP_DAMAGED, DRILL_FAILED, OFFSITE_STALE, WAL_STALE, WAL_GAP,
        WAL_RETENTION, TEST, HEARTBEAT;

        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }

        /** Whether a person must act now (a lost table, a hole in the WAL), not only look soon. */
        public boolean urgent() {
            return this == DATA_LOSS || this == WAL_GAP;
        }
    }

    static Event of(Kind kind, State state, String target, Instant at, Instant since, String title, List<String> lines,
            String command, Map<String, Object> details, Optional<URI> link) {
        return new Event(UUID.randomUUID().toString(), kind, state, target, at, since, title, lines, command, details,
                link);
    }

    /** The whole message as plain text: the facts, the command, the link. */
    public String text() {
        StringBuilder b = new StringBuilder();
        for (String line : lines) {
            b.append(line).append('\n');
        }
        if (command != null) {
            b.append('\n').append("Run: ").append(command).append('\n');
        }
        link.ifPresent(l -> b.append('\n').append("Status page: ").append(l).append('\n'));
        return b.toString().strip();
    }
}
