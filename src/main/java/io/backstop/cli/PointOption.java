package io.backstop.cli;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.config.Settings;
import io.backstop.pitr.Replay;
import io.backstop.recover.PointInTime;
import io.backstop.restore.Resolver;
import java.io.PrintWriter;
import picocli.CommandLine.Option;

/**
 * {@code --at TIME|LSN [--inclusive]} and {@code --before-incident}, shared by restore and recover: a point of
 * the PITR window as the source instead of a backup.
 */
final class PointOption {
    @Option(names = "--at", paramLabel = "TIME|LSN", description = "Instead of a backup: the database as it was at this"
            + " point of the PITR window (2026-12-06T14:52:07Z; without an offset read as UTC; or an LSN 0/3000060).")
    String at;

    @Option(names = "--before-incident", description = "Instead of a backup: the database just before the commit that"
            + " made the drop the raised data-loss alarm saw (found in the archived WAL with pg_waldump; printed first).")
    boolean beforeIncident;

    @Option(names = "--inclusive", description = "With --at: include the commits at exactly that point (default: the"
            + " state just before them).")
    boolean inclusive;

    /** Whether a point was named (then it, not a backup, is the source). */
    boolean given() {
        if (inclusive && at == null) {
            throw new BackstopException(ExitCode.USAGE, "--inclusive goes with --at");
        }
        if (at != null && beforeIncident) {
            throw new BackstopException(ExitCode.USAGE, "--at and --before-incident exclude each other; allowed: one");
        }
        return at != null || beforeIncident;
    }

    /** --at, or the point --before-incident finds, said first: the operator sees what was found before confirming. */
    Replay.Point point(Components main, Settings.Target target, PrintWriter out, String what) {
        if (at != null) {
            return PointInTime.parse(at, inclusive);
        }
        PointInTime.BeforeIncident found = main.pointInTime().beforeIncident(target,
                main.states().readOrWarn(target.name(), out::println));
        out.println("incident: " + found.incident().describe());
        out.println(what + " " + found.point().how());
        out.flush();
        return found.point();
    }

    /** The target's database at the point, taken as a backup of its own to restore or compare with. */
    Resolver.Resolved snapshot(Components main, Settings.Target target, PrintWriter out, String what) {
        return main.pointInTime().snapshot(target, point(main, target, out, what), line -> {
            out.println(line);
            out.flush();
        });
    }
}
