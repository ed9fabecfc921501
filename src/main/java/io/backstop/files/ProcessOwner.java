package io.backstop.files;

import java.util.Optional;

/**
 * Who left a file or directory behind: a process's pid with its start time ("pid.start", the
 * start in base-36 milliseconds), since a pid alone may be taken by another process after its
 * owner died. Sweeps remove what a gone owner left, never what a live one is still writing.
 */
public final class ProcessOwner {
    private static final String CURRENT = tag(ProcessHandle.current()).orElse("0.0");

    private ProcessOwner() {
    }

    /** This process's tag. */
    public static String current() {
        return CURRENT;
    }

    static Optional<String> tag(ProcessHandle p) {
        return p.info().startInstant().map(t -> p.pid() + "." + Long.toString(t.toEpochMilli(), 36));
    }

    /** Whether the process {@code tag} names still runs; a tag that is not one (an older format) names none. */
    public static boolean alive(String tag) {
        int dot = tag.indexOf('.');
        if (dot <= 0) {
            return false;
        }
        try {
            long pid = Long.parseLong(tag.substring(0, dot));
            return ProcessHandle.of(pid).flatMap(ProcessOwner::tag).map(tag::equals).orElse(false);
        } catch (NumberFormatException e) {
            return false;
        }
    }
}
