package io.backstop.recover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.backstop.BackstopException;
import io.backstop.pitr.Replay;
import io.backstop.pitr.Wal;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** What --at accepts, and the label the point's backup gets. */
class PointInTimeTest {
    @Test
    void timesWithAnOffsetWithoutOneAndLsnsAreRead() {
        assertThat(PointInTime.parse("2026-12-06T14:52:07.31Z", false).time())
                .contains(Instant.parse("2026-12-06T14:52:07.310Z"));
        assertThat(PointInTime.parse("2026-12-06T15:52:07+01:00", false).time())
                .contains(Instant.parse("2026-12-06T14:52:07Z"));
        assertThat(PointInTime.parse("2026-12-06 14:52:07.123456", true).time())
                .contains(Instant.parse("2026-12-06T14:52:07.123456Z"));
        Replay.Point lsn = PointInTime.parse("0/3a000060", true);
        assertThat(lsn.lsn()).contains(Wal.parseLsn("0/3A000060"));
        assertThat(lsn.inclusive()).isTrue();
        assertThat(lsn.time()).isEmpty();
    }

    @Test
    void anythingElseIsRefusedSayingWhatIsAllowed() {
        for (String bad : new String[] {"yesterday", "2026-13-01T00:00:00Z", "0/", "14:52"}) {
            assertThatThrownBy(() -> PointInTime.parse(bad, false)).isInstanceOf(BackstopException.class)
                    .hasMessageContaining("allowed are a time").hasMessageContaining("or an LSN");
        }
    }

    @Test
    void thePointNamesItsBackup() {
        assertThat(PointInTime.label(PointInTime.parse("2026-12-06T14:52:07.31Z", false)))
                .isEqualTo("at-20261206T145207.310");
        assertThat(PointInTime.label(PointInTime.parse("0/3A000060", false))).isEqualTo("at-0-3A000060");
    }
}
