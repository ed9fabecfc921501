package io.backstop.pitr;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecoverySettingsTest {
    private static final Replay.Point POINT = Replay.Point.time(Instant.parse("2026-12-06T14:52:07.310Z"), false);

    @Test
    void theTriggerFileIsUsedFromThirteenToFifteenOnly() {
        assertThat(RecoverySettings.promotesAtOnce("13")).isTrue();
        assertThat(RecoverySettings.promotesAtOnce("15")).isTrue();
        assertThat(RecoverySettings.promotesAtOnce("16")).isFalse(); // promote_trigger_file was removed in 16
        assertThat(RecoverySettings.promotesAtOnce("17")).isFalse();
        assertThat(RecoverySettings.promotesAtOnce("12")).isFalse(); // 12 stays paused when asked to promote
        assertThat(RecoverySettings.promotesAtOnce("")).isFalse();
        assertThat(RecoverySettings.promotesAtOnce("devel")).isFalse();
    }

    @Test
    void aDataDirectoryThatPromotesAtOncePausesAtThePointWithHotStandbyOnAndItsTriggerFileBeside(@TempDir Path data)
            throws Exception {
        Files.writeString(data.resolve("postgresql.auto.conf"), "track_commit_timestamp = 'on'\n");
        Files.writeString(data.resolve("postmaster.pid"), "4242\n");
        RecoverySettings.write(data, POINT, "'false'", true, "");

        String conf = Files.readString(data.resolve("postgresql.auto.conf"));
        assertThat(conf).startsWith("track_commit_timestamp = 'on'\n") // the base backup's own settings kept
                .contains("restore_command = 'false'\n", "recovery_target_time = '2026-12-06 14:52:07.310000+00'\n",
                        "recovery_target_inclusive = off\n", "recovery_target_action = 'pause'\n", "hot_standby = on\n",
                        "promote_trigger_file = 'backstop.promote'\n", "primary_conninfo = ''\n")
                .doesNotContain("'promote'");
        assertThat(data.resolve(RecoverySettings.PROMOTE_TRIGGER)).exists();
        assertThat(data.resolve("recovery.signal")).exists();
        assertThat(data.resolve("postgresql.conf")).exists(); // a Debian-style base backup has none: the server needs one
        assertThat(data.resolve("postmaster.pid")).doesNotExist();
    }

    @Test
    void otherwiseItPromotesByTheTargetActionAndNoTriggerFileIsWritten(@TempDir Path data) throws Exception {
        RecoverySettings.write(data, POINT, "'/x/restore-wal %f %p'", false, "ident_file = ''\n");

        String conf = Files.readString(data.resolve("postgresql.auto.conf"));
        assertThat(conf).contains("restore_command = '/x/restore-wal %f %p'\n", "recovery_target_action = 'promote'\n")
                .endsWith("ident_file = ''\n")
                .doesNotContain("pause", "promote_trigger_file", "hot_standby");
        assertThat(data.resolve(RecoverySettings.PROMOTE_TRIGGER)).doesNotExist();
        assertThat(data.resolve("recovery.signal")).exists();
    }

    @Test
    void aReplayToTheEndOfTheWalHasNoPointToPauseAtAndLeavesNoTriggerFile(@TempDir Path data) throws Exception {
        RecoverySettings.write(data, Replay.Point.end("to the end of the archived WAL"), "'false'", true, "");

        assertThat(Files.readString(data.resolve("postgresql.auto.conf"))).contains("recovery_target_action = 'promote'\n")
                .doesNotContain("recovery_target_time", "recovery_target_lsn", "pause", "promote_trigger_file");
        assertThat(data.resolve(RecoverySettings.PROMOTE_TRIGGER)).doesNotExist();
    }
}
