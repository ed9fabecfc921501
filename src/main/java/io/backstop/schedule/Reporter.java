package io.backstop.schedule;

import io.backstop.BackstopException;
import io.backstop.backup.BackupResult;
import io.backstop.retention.Prune;
import java.time.Instant;

/**
 * What scheduled backups report, for /health and /metrics to answer from memory. Called on
 * the job's thread; implementations must be quick and must not throw.
 */
public interface Reporter extends io.backstop.pitr.Pitr.Listener {
    Reporter NONE = new Reporter() {
    };

    /** Every event to {@code first}, then to {@code then} (which may read what {@code first} recorded). */
    static Reporter chain(Reporter first, Reporter then) {
        return new Chain(first, then);
    }

    default void attempt(String target, Instant at) {
    }

    default void success(String target, BackupResult result, Prune.Result rotation) {
    }

    default void failure(String target, BackstopException error, int consecutiveFailures) {
    }

    default void checked(String target, io.backstop.counts.Check.Result result) {
    }

    /** The commit that made a raised alarm's drop, found in the archived WAL (PITR on). */
    default void incidentFound(String target, java.time.Instant alarmRaisedAt, io.backstop.pitr.Incidents.Incident incident) {
    }

    default void drilled(String target, io.backstop.verify.Drill.Result result) {
    }

    /** An offsite sync finished: copies made, retention applied; nothing waits any more. */
    default void offsiteSynced(String target, io.backstop.offsite.Offsite.Status status) {
    }

    /** An offsite sync failed; {@code waitingSince}: when the newest backup still without a copy finished. */
    default void offsiteFailed(String target, BackstopException error, Instant waitingSince) {
    }

    /** Between syncs: when the newest backup still without a copy finished (null: none waits). */
    default void offsiteWaiting(String target, Instant waitingSince) {
    }

    /** How many of the target's backups no longer match their manifests (seen by a listing or a sha256 scan). */
    default void damaged(String target, long count) {
    }

    /** A PITR drill ended (or could not run). */
    default void pitrDrilled(String target, io.backstop.verify.PitrDrill.Result result) {
    }

    /** A reading of the target's WAL streaming, archive and recoverable window (PITR on). */
    @Override
    default void pitr(String target, io.backstop.pitr.Pitr.Status status) {
    }
}
