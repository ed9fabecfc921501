package io.backstop.schedule;

import io.backstop.BackstopException;
import io.backstop.backup.BackupResult;
import io.backstop.retention.Prune;
import java.time.Instant;

/** Two reporters as one: each event goes to {@code first}, then to {@code then}; neither may throw. */
record Chain(Reporter first, Reporter then) implements Reporter {
    @Override
    public void attempt(String target, Instant at) {
        first.attempt(target, at);
        then.attempt(target, at);
    }

    @Override
    public void success(String target, BackupResult result, Prune.Result rotation) {
        first.success(target, result, rotation);
        then.success(target, result, rotation);
    }

    @Override
    public void failure(String target, BackstopException error, int consecutiveFailures) {
        first.failure(target, error, consecutiveFailures);
        then.failure(target, error, consecutiveFailures);
    }

    @Override
    public void checked(String target, io.backstop.counts.Check.Result result) {
        first.checked(target, result);
        then.checked(target, result);
    }

    @Override
    public void incidentFound(String target, Instant alarmRaisedAt, io.backstop.pitr.Incidents.Incident incident) {
        first.incidentFound(target, alarmRaisedAt, incident);
        then.incidentFound(target, alarmRaisedAt, incident);
    }

    @Override
    public void drilled(String target, io.backstop.verify.Drill.Result result) {
        first.drilled(target, result);
        then.drilled(target, result);
    }

    @Override
    public void offsiteSynced(String target, io.backstop.offsite.Offsite.Status status) {
        first.offsiteSynced(target, status);
        then.offsiteSynced(target, status);
    }

    @Override
    public void offsiteFailed(String target, BackstopException error, Instant waitingSince) {
        first.offsiteFailed(target, error, waitingSince);
        then.offsiteFailed(target, error, waitingSince);
    }

    @Override
    public void offsiteWaiting(String target, Instant waitingSince) {
        first.offsiteWaiting(target, waitingSince);
        then.offsiteWaiting(target, waitingSince);
    }

    @Override
    public void damaged(String target, long count) {
        first.damaged(target, count);
        then.damaged(target, count);
    }

    @Override
    public void pitrDrilled(String target, io.backstop.verify.PitrDrill.Result result) {
        first.pitrDrilled(target, result);
        then.pitrDrilled(target, result);
    }

    @Override
    public void pitr(String target, io.backstop.pitr.Pitr.Status status) {
        first.pitr(target, status);
        then.pitr(target, status);
    }
}
