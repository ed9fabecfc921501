package io.backstop.recover;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.backup.Backup;
import io.backstop.backup.BackupResult;
import io.backstop.backup.Progress;
import io.backstop.catalog.Manifests;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.pg.LocalCluster;
import io.backstop.pg.PgTools;
import io.backstop.counts.Drop;
import io.backstop.counts.TargetState;
import io.backstop.pitr.Incidents;
import io.backstop.pitr.Replay;
import io.backstop.pitr.Wal;
import io.backstop.restore.Resolver;
import io.backstop.verify.DrillSite;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A target's state at any point of its recoverable window, as a source for {@code restore} and {@code
 * recover}: the archive is replayed to the point in a throwaway cluster, and the target's database there
 * is taken as a backup of its own (manual tier, labelled {@code at-<point>}: verified, counted, kept as
 * evidence like any other) that the restore or recover then reads as it reads any backup. Or, for a host
 * that is lost, a ready data directory ({@link #physical}).
 */
public final class PointInTime {
    private static final Logger log = LoggerFactory.getLogger(PointInTime.class);
    private static final Pattern LSN = Pattern.compile("[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}");
    private static final DateTimeFormatter LABEL_TIME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS")
            .withZone(ZoneOffset.UTC);

    private final Settings settings;
    private final java.util.function.Supplier<Backup> backup;
    private final PgTools tools;
    private final Manifests manifests;

    /** {@code backup} is asked for only when a point's state is taken as a backup (not for a data directory). */
    public PointInTime(Settings settings, java.util.function.Supplier<Backup> backup, PgTools tools,
            Manifests manifests) {
        this.settings = settings;
        this.backup = backup;
        this.tools = tools;
        this.manifests = manifests;
    }

    /**
     * {@code --at}: an LSN ({@code 0/3000060}) or a time: ISO-8601 with an offset ({@code
     * 2026-12-06T14:52:07.31Z}, {@code 2026-12-06T15:52:07+01:00}) or without one, read as UTC ({@code
     * 2026-12-06 14:52:07}).
     */
    public static Replay.Point parse(String at, boolean inclusive) {
        String s = at.strip();
        if (LSN.matcher(s).matches()) {
            return Replay.Point.lsn(Wal.parseLsn(s.toUpperCase(java.util.Locale.ROOT)), inclusive,
                    (inclusive ? "through " : "before ") + "the record at " + s.toUpperCase(java.util.Locale.ROOT));
        }
        String iso = s.replace(' ', 'T');
        try {
            return Replay.Point.time(OffsetDateTime.parse(iso).toInstant(), inclusive);
        } catch (DateTimeParseException withoutOffset) {
            try {
                return Replay.Point.time(LocalDateTime.parse(iso).toInstant(ZoneOffset.UTC), inclusive);
            } catch (DateTimeParseException e) {
                throw new BackstopException(ExitCode.USAGE, "--at \"" + at + "\": allowed are a time (2026-12-06T14:52:07Z,"
                        + " 2026-12-06 14:52:07.31 read as UTC, or with an offset: 2026-12-06T15:52:07+01:00) or an LSN"
                        + " (0/3000060)");
            }
        }
    }

    /** The backup label naming a point: {@code at-20261206T145207.310} or {@code at-0-3000060}. */
    static String label(Replay.Point point) {
        return "at-" + point.time().map(LABEL_TIME::format)
                .orElseGet(() -> point.lsn().map(l -> Wal.lsn(l).replace('/', '-')).orElse("end"));
    }

    /**
     * Replays {@code target}'s archive to {@code point} and takes the target's database there as a backup;
     * returns it to restore or recover from. {@code say}: progress lines for a terminal.
     */
    public Resolver.Resolved snapshot(Target target, Replay.Point point, Consumer<String> say) {
        Replay replay = replay(target);
        Replay.Plan plan = replay.plan(point);
        say.accept("replaying " + plan.describe() + " in a throwaway cluster ...");
        long started = System.nanoTime();
        LocalCluster cluster = replay.start(plan, DrillSite.scratchParent(settings), target, settings.pgDump().timeout());
        try {
            Target replayed = new Target(target.name(), cluster.host(), cluster.port(), target.database(),
                    target.user(), target.password(), "disable", Duration.ofSeconds(30));
            say.accept(String.format("replayed in %.1f s; taking %s as it was there ...",
                    (System.nanoTime() - started) / 1e9, target.database()));
            BackupResult taken = backup.get().run(replayed, new Backup.Request(Optional.of(label(point)),
                    Duration.ofMinutes(30)), Progress.NONE);
            log.info("{} at {}: {} ({})", target.name(), plan.point(), taken.file(), plan.describe());
            return new Resolver.Resolved(taken.file(), manifests.read(taken.file()),
                    plan.describe() + " -> " + taken.file().getFileName());
        } catch (BackstopException e) {
            throw new BackstopException(e.code(), e.getMessage() + "; the replayed server's log ends: "
                    + Replay.lastLines(cluster.log(), 3), e);
        } finally {
            cluster.close();
        }
    }

    /**
     * A data directory in {@code dir} that a server of the same major version starts on and recovers to
     * {@code point}, then promotes: the host-is-lost case. Returns what it holds.
     */
    public Replay.Plan physical(Target target, Replay.Point point, Path dir) {
        Replay replay = replay(target);
        Replay.Plan plan = replay.writeDataDirectory(point, dir);
        log.info("{}: data directory {} written: {}", target.name(), dir, plan.describe());
        return plan;
    }

    /** The incident's commit and the point just before it. */
    public record BeforeIncident(Incidents.Incident incident, Replay.Point point) {
    }

    /**
     * {@code --before-incident}: the commit that made the drop the raised alarm saw, found in the archived WAL
     * (or as the daemon found it already), and the point just before it.
     */
    public BeforeIncident beforeIncident(Target target, TargetState state) {
        if (state == null || !state.alarmRaised() || state.baseline() == null) {
            throw new BackstopException(ExitCode.USAGE, "--before-incident: no data-loss alarm is raised for "
                    + target.name() + ", so there is no incident to find; name the point with --at TIME|LSN");
        }
        Path dir = settings.backupDir().resolve(target.name());
        Instant raisedAt = state.alarm().raisedAt();
        Incidents.Incident incident = Incidents.recorded(dir, raisedAt, manifests.json())
                .orElseGet(() -> find(target, state).orElseThrow(() -> new BackstopException(ExitCode.USAGE,
                        "--before-incident: the archived WAL from the baseline to the alarm (" + raisedAt + ") holds no"
                                + " commit that deleted from, truncated or dropped " + String.join(", ", alarmed(state))
                                + "; name the point with --at TIME|LSN")));
        return new BeforeIncident(incident, Replay.Point.lsn(Wal.parseLsn(incident.stopLsn()), false,
                "just before the incident's commit (xid " + incident.xid() + ", " + incident.committedAt() + ")"));
    }

    /** Finds the incident of the raised alarm in the archive and keeps it for list and /health. */
    public Optional<Incidents.Incident> find(Target target, TargetState state) {
        TargetState.Baseline baseline = state.baseline();
        Map<String, Long> files = new java.util.TreeMap<>();
        List<String> tables = alarmed(state);
        baseline.tableFiles().forEach((table, oidAndNode) -> {
            if (tables.isEmpty() || tables.contains(table)) {
                String node = oidAndNode.substring(oidAndNode.indexOf(':') + 1);
                files.put(table, Long.parseLong(node));
            }
        });
        long fromLsn = 0;
        if (baseline.file() != null) {
            try {
                String walLsn = manifests.read(settings.backupDir().resolve(baseline.file())).facts().walLsn();
                fromLsn = walLsn == null ? 0 : Wal.parseLsn(walLsn);
            } catch (BackstopException e) {
                log.info("{}: the baseline's backup {} cannot be read ({}); the incident is searched from the oldest"
                        + " base backup", target.name(), baseline.file(), e.getMessage());
            }
        }
        boolean updates = state.alarm().drops().stream().allMatch(d -> d.kind() == Drop.Kind.UPDATED);
        Optional<Incidents.Incident> found = replay(target).findIncident(fromLsn, baseline.databaseOid(), files,
                state.alarm().raisedAt(), updates);
        found.ifPresent(i -> {
            Incidents.record(settings.backupDir().resolve(target.name()), state.alarm().raisedAt(), i, manifests.json());
            log.warn("{}: the data-loss alarm's incident: {}", target.name(), i.describe());
        });
        return found;
    }

    /** The tables the alarm names (none: the database as a whole, every table of the baseline). */
    private static List<String> alarmed(TargetState state) {
        return state.alarm().drops().stream().map(Drop::table).filter(java.util.Objects::nonNull).distinct().toList();
    }

    /**
     * The target's replay; refused, before anything is read, for a target whose WAL is not archived (PITR
     * off, and no archive from a time it was on).
     */
    private Replay replay(Target target) {
        if (!target.pitr().enabled() && !java.nio.file.Files.isDirectory(settings.backupDir().resolve(target.name())
                .resolve(io.backstop.pitr.WalArchive.DIR))) {
            throw new BackstopException(ExitCode.USAGE, "target " + target.name() + " has no WAL archive: PITR is off"
                    + " for it, so only its backups can be restored (a BACKUP, or --from). Turn it on with pitr.enabled"
                    + " = true (BACKSTOP_PITR=true): from then on any second can be restored (docs/pitr.md)");
        }
        return new Replay(target.name(), settings.backupDir().resolve(target.name()), tools,
                manifests.json());
    }
}
