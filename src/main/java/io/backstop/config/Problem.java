package io.backstop.config;

import com.typesafe.config.ConfigOrigin;

/**
 * One thing wrong with the configuration: the full key it is about, what is wrong and what is allowed, and
 * where the value came from (a file and line, or an environment variable), never the value of a secret.
 */
public record Problem(String key, String message, String origin) {
    static Problem of(String key, String message, ConfigOrigin origin) {
        return new Problem(key, message, describe(origin));
    }

    /** As the error lists it: {@code backstop.http.port: must be ..., was "x" (backstop.conf: line 3)}. */
    public String line() {
        return key + ": " + message + origin;
    }

    /** Where a value came from, as " (file: line N)" or " (from environment variable X)"; empty if unknown. */
    static String describe(ConfigOrigin origin) {
        if (origin == null) {
            return "";
        }
        String description = origin.description();
        if (origin.filename() != null) {
            return " (" + origin.filename() + (origin.lineNumber() > 0 ? ": line " + origin.lineNumber() : "") + ")";
        }
        if (description != null && description.startsWith("env var")) {
            return " (from environment variable " + description.substring("env var".length()).trim() + ")";
        }
        if (description != null && description.contains("environment variables")) {
            return " (from an environment variable)";
        }
        return "";
    }
}
