package io.backstop.notify;

/**
 * One way of reaching a person. {@link #send} delivers one event or throws; it is called on the
 * channel's own thread (never a backup's), one event at a time.
 */
interface Channel {
    /** The configured name: the metrics label and what the log and status page say. */
    String name();

    /** webhook, slack, discord, ntfy, email or heartbeat. */
    String type();

    /** Whether this channel takes events of {@code kind}. */
    boolean takes(Event.Kind kind);

    void send(Event event) throws DeliveryException;

    /** A channel that could not deliver: {@code getMessage()} is safe to log (no URL, token or password). */
    final class DeliveryException extends Exception {
        private static final long serialVersionUID = 1L;

        DeliveryException(String safeMessage) {
            super(safeMessage);
        }
    }
}
