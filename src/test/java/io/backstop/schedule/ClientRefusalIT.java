package io.backstop.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.http.HealthState;
import io.backstop.testing.Cli;
import io.backstop.testing.PgCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A server newer than every client here is refused when the daemon starts, with both versions and the fix. */
class ClientRefusalIT {
    private final PgCluster pg = PgCluster.shared();

    @TempDir
    Path dir;

    @Test
    void theDaemonRefusesToStartWhenNoClientHereCanDumpTheServer() throws Exception {
        Path bin = Files.createDirectories(dir.resolve("old-client/bin"));
        for (String tool : new String[] {"pg_dump", "pg_restore"}) {
            Path p = bin.resolve(tool);
            Files.writeString(p, "#!/bin/sh\necho '" + tool + " (PostgreSQL) 13.16 (Debian 13.16-0+deb11u1)'\n");
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        String db = pg.createDatabase("newer_server");
        Map<String, String> env = Cli.env(pg, db, dir.resolve("backups"));
        env.put("BACKSTOP_PG_BIN_DIR", bin.toString());
        Components main = Cli.components(env);
        Daemon daemon = main.daemon(new HealthState());
        try {
            BackstopException e = catchThrowableOfType(BackstopException.class, daemon::start);
            assertThat(e).as("the daemon started").isNotNull();
            assertThat(e.code()).isEqualTo(ExitCode.TOOLS);
            String major = pg.connect(db).getMetaData().getDatabaseProductVersion().replaceAll("\\..*", "");
            assertThat(e.getMessage()).startsWith("target app: pg_dump 13.16 (" + bin.resolve("pg_dump") + ")")
                    .contains("is older than the server " + major + ".").contains("--build-arg PG_MAJOR=" + major)
                    .contains("postgresql-client-" + major);
            assertThat(Files.exists(dir.resolve("backups/app/hourly"))).as("nothing was backed up").isFalse();
        } finally {
            daemon.stop(java.time.Duration.ofSeconds(8));
        }
    }
}
