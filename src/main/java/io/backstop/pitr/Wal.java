package io.backstop.pitr;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * WAL positions and file names as PostgreSQL spells them: an LSN is {@code hi/lo} in hex; a segment
 * file is its timeline, log and segment number in 24 hex digits; a timeline's history file is
 * {@code TTTTTTTT.history}; pg_receivewal names the segment it is still writing {@code ….partial}.
 */
public final class Wal {
    static final Pattern SEGMENT = Pattern.compile("[0-9A-F]{24}");
    static final Pattern HISTORY = Pattern.compile("[0-9A-F]{8}\\.history");
    static final String PARTIAL = ".partial";

    private Wal() {
    }

    /** {@code "16/B374D848"} as a number. */
    public static long parseLsn(String text) {
        int slash = text.indexOf('/');
        if (slash <= 0) {
            throw new IllegalArgumentException("not a WAL position (hi/lo in hex): " + text);
        }
        return (Long.parseLong(text.substring(0, slash), 16) << 32) | Long.parseLong(text.substring(slash + 1), 16);
    }

    public static String lsn(long value) {
        return Long.toHexString(value >>> 32).toUpperCase(Locale.ROOT) + "/"
                + Long.toHexString(value & 0xFFFFFFFFL).toUpperCase(Locale.ROOT);
    }

    public static boolean isSegment(String name) {
        return SEGMENT.matcher(name).matches();
    }

    /** A segment pg_receivewal is still writing (or one kept after a gap): {@code <segment>.partial}. */
    public static boolean isPartial(String name) {
        return name.length() == 24 + PARTIAL.length() && name.endsWith(PARTIAL) && isSegment(name.substring(0, 24));
    }

    static boolean isHistory(String name) {
        return HISTORY.matcher(name).matches();
    }

    /** The segment's number counted from the start of WAL, whatever its timeline. */
    public static long segno(String name, long segmentSize) {
        long log = Long.parseLong(name.substring(8, 16), 16);
        long seg = Long.parseLong(name.substring(16, 24), 16);
        return log * (0x100000000L / segmentSize) + seg;
    }

    static int timeline(String name) {
        return (int) Long.parseLong(name.substring(0, 8), 16);
    }

    public static String segmentName(int timeline, long segno, long segmentSize) {
        long perLog = 0x100000000L / segmentSize;
        return String.format(Locale.ROOT, "%08X%08X%08X", timeline, segno / perLog, segno % perLog);
    }

    /** The segment holding {@code lsn}. */
    public static long segnoOf(long lsn, long segmentSize) {
        return Long.divideUnsigned(lsn, segmentSize);
    }
}
