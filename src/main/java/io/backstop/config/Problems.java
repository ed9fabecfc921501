package io.backstop.config;

import com.typesafe.config.ConfigOrigin;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Every problem found while the configuration is read: collected, then reported at once, one per key. */
final class Problems {
    private final List<Problem> found = new ArrayList<>();

    void add(String key, String message, ConfigOrigin origin) {
        found.add(Problem.of(key, message, origin));
    }

    void add(String key, String message) {
        found.add(new Problem(key, message, ""));
    }

    boolean isEmpty() {
        return found.isEmpty();
    }

    /** The first problem of each key: the schema check and the typed reads may both see the same bad value. */
    List<Problem> distinct() {
        Map<String, Problem> byKey = new LinkedHashMap<>();
        for (Problem p : found) {
            byKey.putIfAbsent(p.key(), p);
        }
        return List.copyOf(byKey.values());
    }

    /** The error that stops Backstop before it starts: every distinct problem, one line each. */
    BackstopException error() {
        List<String> lines = distinct().stream().map(Problem::line).toList();
        return new BackstopException(ExitCode.USAGE, "invalid configuration (" + lines.size()
                + (lines.size() == 1 ? " problem" : " problems") + "):\n  - " + String.join("\n  - ", lines));
    }
}
