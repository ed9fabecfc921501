package io.backstop.config;

/**
 * A password or token. {@link #toString()} never shows it, so a secret that slips into a log
 * line, an exception message or a record's toString shows as {@code ****}.
 */
public final class Secret {
    private static final Secret NONE = new Secret("");

    private final String value;

    private Secret(String value) {
        this.value = value;
    }

    public static Secret of(String value) {
        return value == null || value.isEmpty() ? NONE : new Secret(value);
    }

    public static Secret none() {
        return NONE;
    }

    public boolean isPresent() {
        return !value.isEmpty();
    }

    /** The secret itself; call only where it is handed to a connection or a private file. */
    public String reveal() {
        return value;
    }

    @Override
    public String toString() {
        return isPresent() ? "****" : "";
    }
}
