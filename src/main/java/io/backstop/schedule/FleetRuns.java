package io.backstop.schedule;

import io.backstop.BackstopException;
import io.backstop.backup.BackupResult;
import io.backstop.fleet.Fleet;
import io.backstop.retention.Prune;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Records this node's runs in the fleet's database, where every node reads them: a backup from its attempt to its
 * end, a check or a drill when it ended. Recording never fails a job: the fleet logs what it could not write.
 */
public final class FleetRuns implements Reporter {
    private final Fleet fleet;
    private final Map<String, Long> running = new ConcurrentHashMap<>();

    public FleetRuns(Fleet fleet) {
        this.fleet = fleet;
    }

    @Override
    public void attempt(String target, Instant at) {
        running.put(target, fleet.started(target, "backup"));
    }

    @Override
    public void success(String target, BackupResult result, Prune.Result rotation) {
        Long id = running.remove(target);
        fleet.finished(id == null ? fleet.started(target, "backup") : id, null, 0);
    }

    @Override
    public void failure(String target, BackstopException error, int consecutiveFailures) {
        Long id = running.remove(target);
        fleet.finished(id == null ? fleet.started(target, "backup") : id, error.getMessage(), consecutiveFailures);
    }

    @Override
    public void checked(String target, io.backstop.counts.Check.Result result) {
        fleet.finished(fleet.started(target, "check"), null, 0);
    }

    @Override
    public void drilled(String target, io.backstop.verify.Drill.Result result) {
        fleet.finished(fleet.started(target, "drill"), result.passed() ? null : "the restore drill failed", 0);
    }
}
