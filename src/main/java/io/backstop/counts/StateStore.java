package io.backstop.counts;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.files.Durable;
import io.backstop.files.TargetLock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;

/**
 * Reads and atomically rewrites a target's state.json. Updates are read-modify-write under a
 * short-held lock of their own ({@code .state.lock}), so the daemon's checks, its backups and
 * a CLI {@code check} or {@code ack} never lose each other's changes, even while a long dump
 * holds the backup lock.
 */
public final class StateStore {
    private final BackupLayout layout;
    private final ObjectMapper json;

    public StateStore(BackupLayout layout, ObjectMapper json) {
        this.layout = layout;
        this.json = json;
    }

    public TargetState read(String target) {
        Path file = layout.stateFile(target);
        if (!Files.exists(file)) {
            return TargetState.empty(target);
        }
        try {
            TargetState state = json.readValue(file.toFile(), TargetState.class);
            if (state.formatVersion() > TargetState.FORMAT_VERSION) {
                throw new BackstopException(ExitCode.USAGE, file + " has format_version " + state.formatVersion()
                        + "; this Backstop reads up to " + TargetState.FORMAT_VERSION);
            }
            return state;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new BackstopException(ExitCode.USAGE, file + " is damaged (" + e.getOriginalMessage()
                    + "); move it away to start a new baseline (the alarm state in it is lost)", e);
        } catch (IOException e) {
            throw Durable.storageError("cannot read " + file, e);
        }
    }

    /**
     * The state for what only shows or double-checks it (restore, verify, recover's dry run): a
     * damaged state.json is said through {@code warn} and read as empty, never a reason to refuse
     * restoring a good backup on the worst day. What needs the baseline uses {@link #read}.
     */
    public TargetState readOrWarn(String target, java.util.function.Consumer<String> warn) {
        try {
            return read(target);
        } catch (BackstopException e) {
            warn.accept("WARNING " + e.getMessage() + ". Going on without the baseline and alarm state.");
            return TargetState.empty(target);
        }
    }

    /** Whether state.json can be read (absent counts as readable: an empty state). */
    public boolean readable(String target) {
        try {
            read(target);
            return true;
        } catch (BackstopException e) {
            return false;
        }
    }

    /** Applies {@code change} to the current state under the state lock and writes the result. */
    public TargetState update(String target, UnaryOperator<TargetState> change) {
        Path lockFile = layout.targetDir(target).resolve(".state.lock");
        try (TargetLock lock = TargetLock.acquire(lockFile, target, Duration.ofSeconds(30))) {
            TargetState next = change.apply(read(target));
            try {
                Durable.writeAtomically(layout.stateFile(target), json.writeValueAsBytes(next));
            } catch (IOException e) {
                throw Durable.storageError("cannot write " + layout.stateFile(target), e);
            }
            return next;
        }
    }
}
