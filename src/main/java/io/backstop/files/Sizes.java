package io.backstop.files;

import java.time.Duration;
import java.util.Locale;

/** Human-readable sizes and durations for log lines and CLI output. */
public final class Sizes {
    private Sizes() {
    }

    public static String bytes(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KB", "MB", "GB", "TB"};
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }

    public static String seconds(Duration d) {
        double s = d.toNanos() / 1e9;
        if (s < 60) {
            return String.format(Locale.ROOT, "%.1f s", s);
        }
        long total = d.toSeconds();
        return total >= 3600 ? String.format(Locale.ROOT, "%dh%02dm%02ds", total / 3600, total / 60 % 60, total % 60)
                : String.format(Locale.ROOT, "%dm%02ds", total / 60, total % 60);
    }

    /** A duration as people say an age: 45s, 12m, 3h 05m, 2d 4h (never negative). */
    public static String age(Duration d) {
        long s = Math.max(0, d.toSeconds());
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return s / 60 + "m";
        }
        if (s < 86_400) {
            return String.format(Locale.ROOT, "%dh %02dm", s / 3600, s % 3600 / 60);
        }
        return String.format(Locale.ROOT, "%dd %dh", s / 86_400, s % 86_400 / 3600);
    }

    public static String rate(long bytes, Duration d) {
        double s = Math.max(d.toNanos() / 1e9, 0.001);
        return bytes((long) (bytes / s)) + "/s";
    }
}
