package io.backstop.http;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.backstop.config.Settings;
import io.backstop.counts.Drop;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * What /health says, per target: ok, or the reasons it is not. 200 only when every target is
 * ok: its newest verified backup is younger than stale-after, its last attempt did not fail,
 * no data-loss alarm is raised and its last restore drill did not fail. A target with no
 * backup yet is ok during the start-up grace.
 */
public final class Health {
    public enum Reason { DATA_DROP, FAILING, STALE, NO_BACKUP, DRILL_FAILED, DRILL_NOT_RUN, BACKUP_DAMAGED, OFFSITE_STALE,
        WAL_STALE, WAL_GAP }

    private final Settings settings;
    private final HealthState state;
    private final Clock clock;
    private final Instant startedAt;

    public Health(Settings settings, HealthState state, Clock clock) {
        this.settings = settings;
        this.state = state;
        this.clock = clock;
        this.startedAt = clock.instant();
    }

    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record TargetHealth(String target, String status, List<Reason> reasons, Instant newestVerifiedBackup,
            Long ageSeconds, boolean backupInProgress, String lastError, List<Drop> drops, String recover,
            io.backstop.pitr.Incidents.Incident incident, io.backstop.pitr.Pitr.Status pitr, String node) {
    }

    /**
     * In a fleet, the fleet as this node sees it: its own name, whether it sends the notifications, its clock's
     * drift from the fleet database's, and every node with when it last checked in. A node that is down does not
     * make this node's /health fail (Docker would restart a healthy node for it): the alert does.
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record FleetView(String node, boolean speaks, double clockDriftSeconds,
            List<io.backstop.fleet.Fleet.Node> nodes) {
    }

    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Report(String status, List<TargetHealth> targets, FleetView fleet) {
        public boolean healthy() {
            return "ok".equals(status);
        }
    }

    public Report evaluate() {
        Instant now = clock.instant();
        List<TargetHealth> targets = new ArrayList<>();
        boolean healthy = true;
        for (Settings.Target t : settings.targets()) {
            HealthState.TargetFacts f = state.get(t.name());
            List<Reason> reasons = new ArrayList<>();
            if (f.alarm()) {
                reasons.add(Reason.DATA_DROP);
            }
            if (f.lastAttemptFailed()) {
                reasons.add(Reason.FAILING);
            }
            Long age = f.lastSuccess() == null ? null : Duration.between(f.lastSuccess(), now).toSeconds();
            if (f.lastSuccess() != null && Duration.between(f.lastSuccess(), now).compareTo(settings.staleAfter()) > 0) {
                reasons.add(Reason.STALE);
            }
            if (f.lastSuccess() == null && Duration.between(startedAt, now).compareTo(settings.startupGrace()) > 0) {
                reasons.add(Reason.NO_BACKUP);
            }
            io.backstop.verify.PitrDrill.Result replay = state.pitrDrill(t.name());
            if (f.lastDrillResult() != null && f.lastDrillResult() == 0 || replay != null && replay.ran() && !replay.passed()) {
                reasons.add(Reason.DRILL_FAILED);
            }
            if (f.lastDrillResult() != null && f.lastDrillResult() == HealthState.DRILL_NOT_RUN) {
                reasons.add(Reason.DRILL_NOT_RUN);
            }
            if (state.damaged(t.name()) > 0) {
                reasons.add(Reason.BACKUP_DAMAGED);
            }
            if (settings.offsite().isPresent() && state.offsiteLagSeconds(t.name(), now)
                    > settings.offsite().get().maxLag().toSeconds()) {
                reasons.add(Reason.OFFSITE_STALE);
            }
            io.backstop.pitr.Pitr.Status wal = t.pitr().enabled() ? state.pitr(t.name()) : null;
            if (wal != null && wal.stale()) {
                reasons.add(Reason.WAL_STALE);
            }
            if (wal != null && (wal.window().open() || wal.window().from() == null
                    && Duration.between(startedAt, now).compareTo(settings.startupGrace()) > 0)) {
                reasons.add(Reason.WAL_GAP); // a gap, or still no recoverable window after the start-up grace
            }
            healthy &= reasons.isEmpty();
            targets.add(new TargetHealth(t.name(), reasons.isEmpty() ? "ok" : "failing", reasons, f.lastSuccess(), age,
                    f.inProgress(), f.lastAttemptFailed() ? f.lastError() : null, f.drops(),
                    f.alarm() ? Drop.recoverCommand(t.name(), f.drops(), t.pitr().enabled()).orElse(null) : null,
                    f.alarm() ? state.incident(t.name()) : null, wal, state.node(t.name())));
        }
        FleetView fleet = state.fleet().map(x -> new FleetView(x.node(), x.speaks(), x.driftSeconds(), x.nodes()))
                .orElse(null);
        return new Report(healthy ? "ok" : "failing", targets, fleet);
    }
}
