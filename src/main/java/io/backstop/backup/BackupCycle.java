package io.backstop.backup;

import io.backstop.backup.Backup;
import io.backstop.backup.BackupResult;
import io.backstop.backup.Progress;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Latest;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Manifests;
import io.backstop.config.Settings.Target;
import io.backstop.counts.Check;
import io.backstop.files.TargetLock;
import io.backstop.retention.Prune;
import java.time.Duration;

/**
 * Everything one backup entails, the same for the scheduler, the CLI and the HTTP trigger:
 * the verified backup; then the data-loss comparison of its counts with the baseline (which
 * pins the pre-drop backups before anything can rotate them away); then rotation.
 */
public final class BackupCycle {
    private final Backup backup;
    private final Check check;
    private final Prune rotation;
    private final BackupLayout layout;
    private final Manifests manifests;
    private final Latest latest;

    public BackupCycle(Backup backup, Check check, Prune rotation, BackupLayout layout, Manifests manifests) {
        this.backup = backup;
        this.check = check;
        this.rotation = rotation;
        this.layout = layout;
        this.manifests = manifests;
        this.latest = new Latest(layout, manifests);
    }

    /** {@code check} is null for a safety backup, which is compared with nothing. */
    public record Result(BackupResult backup, Check.Result check, Prune.Result rotation) {
    }

    public Result run(Target target, Backup.Request request, Progress progress) {
        // The comparison after the dump needs state.json: a damaged one must stop us before an hour of dumping.
        check.requireReadableState(target.name());
        BackupResult result = backup.run(target, request, progress);
        // A safety backup copies a state about to be changed on purpose: it neither moves the baseline nor raises.
        Check.Result checked = request.safety() ? null : check.afterBackup(target.name(), result.manifest());
        Manifest manifest = result.manifest();
        Prune.Result rotated;
        try (TargetLock lock = TargetLock.acquire(layout.lockFile(target.name()), target.name(),
                request.lockWait().plus(Duration.ofMinutes(1)))) {
            if (checked != null && checked.alarmRaised()) {
                // Taken while rows are missing: perhaps a copy of the damage. Never latest (DESIGN invariant 9).
                manifest = manifest.withAlarmRaised();
                manifests.write(result.file(), manifest);
            }
            rotated = rotation.afterBackup(target.name(), result.file(), manifest);
            latest.refresh(target.name());
        }
        return new Result(result, checked, rotated);
    }
}
