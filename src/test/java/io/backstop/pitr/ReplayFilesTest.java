package io.backstop.pitr;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplayFilesTest {
    @Test
    void aBaseBackupIsCopiedWholeWithItsModesAndTimesAndWithoutItsOwnSegmentsWhenTheArchiveGivesThem(
            @TempDir Path dir) throws Exception {
        Path base = dir.resolve("base backup");
        Files.createDirectories(base.resolve("base/16384"));
        Files.createDirectories(base.resolve("pg_wal/archive_status"));
        Files.createDirectories(base.resolve("pg_tblspc"));
        byte[] relation = new byte[3 * 1024 * 1024 + 5];
        new Random(3).nextBytes(relation);
        Files.write(base.resolve("base/16384/2619"), relation);
        Files.writeString(base.resolve("PG_VERSION"), "15\n");
        Files.setPosixFilePermissions(base.resolve("PG_VERSION"), PosixFilePermissions.fromString("rw-------"));
        Files.setLastModifiedTime(base.resolve("base/16384/2619"), FileTime.fromMillis(1_700_000_000_000L));
        Files.write(base.resolve("pg_wal/000000010000000000000003"), new byte[4096]);
        Files.writeString(base.resolve("pg_wal/00000002.history"), "1\t0/3000000\tno recovery target specified\n");

        Path data = dir.resolve("data");
        ReplayFiles.copyBase(base, data, false, p -> { });
        assertThat(data.resolve("base/16384/2619")).hasBinaryContent(relation);
        assertThat(Files.getLastModifiedTime(data.resolve("base/16384/2619")).toMillis()).isEqualTo(1_700_000_000_000L);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(data.resolve("PG_VERSION"))))
                .isEqualTo("rw-------");
        assertThat(data.resolve("pg_tblspc")).isEmptyDirectory();
        assertThat(data.resolve("pg_wal/archive_status")).isEmptyDirectory();
        assertThat(data.resolve("pg_wal/00000002.history")).hasSameTextualContentAs(base.resolve("pg_wal/00000002.history"));
        assertThat(data.resolve("pg_wal/000000010000000000000003")).doesNotExist();

        Path withWal = dir.resolve("with its WAL");
        ReplayFiles.copyBase(base, withWal, true, p -> { });
        assertThat(withWal.resolve("pg_wal/000000010000000000000003")).hasBinaryContent(new byte[4096]);
        assertThat(withWal.resolve("base/16384/2619")).hasBinaryContent(relation);
    }

    @Test
    void aCopyThatFailsIsAnErrorNamingTheFile(@TempDir Path dir) throws Exception {
        Path base = dir.resolve("base");
        Files.createDirectories(base.resolve("global"));
        Files.writeString(base.resolve("global/pg_control"), "x");
        Path data = dir.resolve("data");
        Files.createDirectories(data.resolve("global/pg_control/in the way")); // a file cannot replace it, even as root
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ReplayFiles.copyBase(base, data, false, p -> { }))
                .isInstanceOf(java.io.IOException.class).hasMessageContaining("pg_control");
    }
}
