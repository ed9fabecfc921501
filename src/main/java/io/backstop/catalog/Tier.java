package io.backstop.catalog;

import java.util.Locale;

/**
 * Retention tiers; each is a directory under the target's directory. {@link #SAFETY} holds the
 * backups taken just before something destructive (restore --clean, guard --backup-first):
 * copies of a state that may already be damaged, so they are never {@code latest}, never
 * promoted, never pinned as evidence and never picked by a bare reference.
 */
public enum Tier {
    HOURLY, DAILY, WEEKLY, MONTHLY, MANUAL, SAFETY;

    public String dir() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether backups of this tier stand for the target's data (everything but safety backups). */
    public boolean regular() {
        return this != SAFETY;
    }

    @com.fasterxml.jackson.annotation.JsonValue
    public String json() {
        return dir();
    }

    @com.fasterxml.jackson.annotation.JsonCreator
    public static Tier parse(String text) {
        return valueOf(text.toUpperCase(Locale.ROOT));
    }
}
