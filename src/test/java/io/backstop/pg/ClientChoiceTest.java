package io.backstop.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client a backup takes: the server's own major where installed, else the newest, which refuses newer servers. */
class ClientChoiceTest {
    @TempDir
    Path root;

    private void client(String major, String version) throws Exception {
        Path bin = Files.createDirectories(root.resolve(major).resolve("bin"));
        for (String tool : new String[] {"pg_dump", "pg_restore"}) {
            Path p = bin.resolve(tool);
            Files.writeString(p, "#!/bin/sh\necho '" + tool + " (PostgreSQL) " + version + " (Debian)'\n");
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @BeforeEach
    void clients() throws Exception {
        client("13", "13.16");
        client("15", "15.8");
        client("17", "17.2");
    }

    @Test
    void eachServerGetsItsOwnMajorWhereInstalled() {
        PgTools tools = PgTools.under(root);
        assertThat(tools.binDir()).isEqualTo(root.resolve("17/bin"));
        assertThat(tools.installedMajors()).containsExactly("13", "15", "17");
        assertThat(tools.forServer(PgVersion.fromVersionNum(150012)).binDir()).isEqualTo(root.resolve("15/bin"));
        assertThat(tools.forServer(PgVersion.fromVersionNum(150012)).dumpVersion().text()).isEqualTo("15.8");
        assertThat(tools.forServer(PgVersion.fromVersionNum(130020)).binDir()).isEqualTo(root.resolve("13/bin"));
        assertThat(tools.forServer(PgVersion.fromVersionNum(170000)).binDir()).isEqualTo(root.resolve("17/bin"));
        assertThat(tools.forServer(PgVersion.fromVersionNum(150012))).as("asked once per directory")
                .isSameAs(tools.forServer(PgVersion.fromVersionNum(150001)));
    }

    @Test
    void aServerWithoutItsOwnClientGetsTheNewestAndOneNewerThanAllIsRefusedWithTheFix() {
        PgTools tools = PgTools.under(root);
        PgTools for16 = tools.forServer(PgVersion.fromVersionNum(160004));
        assertThat(for16.binDir()).isEqualTo(root.resolve("17/bin"));
        for16.requireDumpCanRead(PgVersion.fromVersionNum(160004));

        PgVersion eighteen = PgVersion.fromVersionNum(180001);
        PgTools for18 = tools.forServer(eighteen);
        BackstopException e = catchThrowableOfType(BackstopException.class, () -> for18.requireDumpCanRead(eighteen));
        assertThat(e.code()).isEqualTo(ExitCode.TOOLS);
        assertThat(e.getMessage()).contains("pg_dump 17.2").contains("older than the server 18.1")
                .contains("--build-arg PG_MAJOR=18").contains("postgresql-client-18");
    }
}
