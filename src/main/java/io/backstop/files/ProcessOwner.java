package io.backstop.files;

import java.util.Optional;

/**
 * Who left a file or directory behind: a process's pid with its start time ("pid.start", the
 * start in base-36 milliseconds), since a pid alone may be taken by another process after its
 * owner died. Sweeps remove what a gone owner left, never what a live one is still writing.
 *
 * <p>In a fleet several hosts write into one shared directory, and a pid means nothing on another host: there
 * the tag also names the node ("pid.start.node", the node as a short hash), and whether another node's process
 * may still be writing is the fleet's to say ({@link #inFleet}): only while that node still checks in.
 */
public final class ProcessOwner {
    private static final String LOCAL = tag(ProcessHandle.current()).orElse("0.0");
    private static volatile String current = LOCAL;
    private static volatile String node;
    private static volatile java.util.function.Predicate<String> nodeAlive = n -> false;

    private ProcessOwner() {
    }

    /** This process's tag. */
    public static String current() {
        return current;
    }

    /**
     * This process runs as fleet node {@code name}: its tags name the node from now on, and another node's
     * process counts as alive exactly while {@code alive} says its node (given as {@link #nodeHash}) is.
     */
    public static void inFleet(String name, java.util.function.Predicate<String> alive) {
        node = nodeHash(name);
        nodeAlive = alive;
        current = LOCAL + "." + node;
    }

    /** A node's name as it appears in tags: 8 base-36 characters of its SHA-256, no '-' or '.' in it. */
    public static String nodeHash(String name) {
        byte[] d;
        try {
            d = java.security.MessageDigest.getInstance("SHA-256").digest(name.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        long v = java.nio.ByteBuffer.wrap(d).getLong() & Long.MAX_VALUE;
        String s = Long.toString(v, 36);
        return s.substring(0, Math.min(8, s.length()));
    }

    static Optional<String> tag(ProcessHandle p) {
        return p.info().startInstant().map(t -> p.pid() + "." + Long.toString(t.toEpochMilli(), 36));
    }

    /** Whether the process {@code tag} names still runs; a tag that is not one (an older format) names none. */
    public static boolean alive(String tag) {
        return alive(tag, node, nodeAlive);
    }

    /** {@link #alive(String)} as node {@code self} (null: not in a fleet), asking {@code nodeAlive} about others. */
    static boolean alive(String tag, String self, java.util.function.Predicate<String> nodeAlive) {
        String[] parts = tag.split("\\.");
        if (parts.length == 3) {
            if (!parts[2].equals(self)) {
                return nodeAlive.test(parts[2]);
            }
            tag = parts[0] + "." + parts[1];
        }
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
