package io.backstop.backup;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.ServerInfo;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Database;
import io.backstop.pg.PgTools;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Optional;

/**
 * Which client serves a target's server, said as the daemon's start-up log says it: the server's own
 * major where installed, else the newest; refused (exit 7) when the server is newer than every client here.
 */
final class ClientChoice {
    private ClientChoice() {
    }

    static Optional<String> describe(PgTools tools, Target target) {
        try (Connection c = new Database(target).connect()) {
            ServerInfo server = ServerInfo.read(c);
            PgTools client = tools.forServer(server.version());
            client.requireDumpCanRead(server.version());
            return Optional.of("PostgreSQL " + server.version() + " served by pg_dump " + client.dumpVersion() + " in "
                    + client.binDir() + " (clients here: " + String.join(", ", tools.installedMajors()) + ")");
        } catch (SQLException e) {
            return Optional.empty();
        } catch (BackstopException e) {
            if (e.code() == ExitCode.TOOLS) {
                throw new BackstopException(ExitCode.TOOLS, "target " + target.name() + ": " + e.getMessage(), e);
            }
            return Optional.empty(); // unreachable, login refused, database missing: the backup will say
        }
    }
}
