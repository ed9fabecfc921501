package io.backstop.backup;

import java.util.Locale;

/** Retention tiers; each is a directory under the target's directory. */
public enum Tier {
    HOURLY, DAILY, WEEKLY, MONTHLY, MANUAL;

    public String dir() {
        return name().toLowerCase(Locale.ROOT);
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
