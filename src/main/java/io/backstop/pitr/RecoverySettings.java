package io.backstop.pitr;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The settings a replayed data directory starts with: where its WAL comes from, the point it stops at, and how it
 * leaves recovery there.
 *
 * <p>A server that promotes because its recovery target says so ({@code recovery_target_action = 'promote'})
 * writes an end-of-recovery checkpoint before it takes a connection: every buffer the replay dirtied, written and
 * synced (0.5 s of a 1.8 s replay of 375 MB of WAL; with large shared buffers, far more). A promotion asked for
 * while it is paused ({@code pg_ctl promote}'s) writes only an end-of-recovery record, takes connections at once
 * and checkpoints in the background. From PostgreSQL 13 to 15 a data directory can ask for it itself: it pauses
 * at the point and at once finds the promote trigger file Backstop left beside it (a promotion ends a pause from
 * 13 on). PostgreSQL 16 dropped the trigger file; from there it promotes at the point, after the checkpoint.
 */
final class RecoverySettings {
    /** The promote trigger file a data directory's server finds at its point, relative to the directory. */
    static final String PROMOTE_TRIGGER = "backstop.promote";

    private RecoverySettings() {
    }

    /** Whether a data directory of PostgreSQL {@code major} promotes at its point without waiting for a checkpoint. */
    static boolean promotesAtOnce(String major) {
        try {
            int m = Integer.parseInt(major);
            return m >= 13 && m <= 15; // a promotion ends a pause from 13 (12 stays paused); no trigger file from 16
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /**
     * The recovery settings appended to {@code data}'s postgresql.auto.conf, and its recovery.signal: WAL from
     * {@code restoreCommand}, the stop at {@code point}, {@code more}; promoted at once there when {@code
     * promoteAtOnce} (its trigger file written too), else by the target action. A replay to the end of the WAL
     * has no point to pause at: it ends recovery there and promotes after the checkpoint, no trigger file left.
     */
    static void write(Path data, Replay.Point point, String restoreCommand, boolean promoteAtOnce, String more)
            throws IOException {
        boolean atOnce = promoteAtOnce && !point.settings().isEmpty();
        if (!Files.exists(data.resolve("postgresql.conf"))) {
            // a Debian-style server keeps it in /etc: the directory must still start on its own
            Files.writeString(data.resolve("postgresql.conf"), "", StandardCharsets.UTF_8);
        }
        String leave = atOnce
                // (a pause needs hot standby: without it the server would shut down at the point instead)
                ? "# paused at the point, the server finds the trigger file and promotes without waiting for a checkpoint\n"
                        + "recovery_target_action = 'pause'\nhot_standby = on\npromote_trigger_file = '"
                        + PROMOTE_TRIGGER + "'\n"
                : "recovery_target_action = 'promote'\n";
        String recovery = "\n# backstop: recovery to " + point + "\nrestore_command = " + restoreCommand + "\n"
                + point.settings() + leave + "primary_conninfo = ''\nprimary_slot_name = ''\narchive_command = ''\n"
                + more;
        Files.writeString(data.resolve("postgresql.auto.conf"), recovery, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        if (atOnce) {
            Files.writeString(data.resolve(PROMOTE_TRIGGER), "", StandardCharsets.UTF_8);
        }
        Files.writeString(data.resolve("recovery.signal"), "", StandardCharsets.UTF_8);
        Files.deleteIfExists(data.resolve("postmaster.pid"));
    }
}
