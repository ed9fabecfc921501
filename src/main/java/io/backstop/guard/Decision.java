package io.backstop.guard;

import java.util.Locale;

/** What the guard says of a command, least to most severe. */
public enum Decision {
    ALLOW, ASK, BLOCK;

    public String word() {
        return name().toLowerCase(Locale.ROOT);
    }

}
