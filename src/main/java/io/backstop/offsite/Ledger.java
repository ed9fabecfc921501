package io.backstop.offsite;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.files.Durable;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code <target>/offsite-<hash of the destination>.json}: the copies this Backstop uploaded and verified,
 * and where to. Each destination keeps its own record: a record of another one (the url or endpoint changed)
 * counts for nothing here.
 */
public final class Ledger {
    private static final int STATE_FORMAT = 1;

    /** The record of one target's copies at one destination. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record State(int formatVersion, String destination, Map<String, Copy> copies) {
        public State {
            copies = copies == null ? new TreeMap<>() : new TreeMap<>(copies);
        }
    }

    private final String destination;
    private final BackupLayout layout;
    private final ObjectMapper json;

    /** {@code destination}: the bucket and prefix (an endpoint may change its name, not its objects). */
    Ledger(String destination, BackupLayout layout, ObjectMapper json) {
        this.destination = destination;
        this.layout = layout;
        this.json = json;
    }

    Path file(String target) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(destination.getBytes(StandardCharsets.UTF_8));
            return layout.targetDir(target).resolve("offsite-" + HexFormat.of().formatHex(h, 0, 4) + ".json");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    State read(String target) {
        Path file = file(target);
        try {
            State s = json.readValue(file.toFile(), State.class);
            if (!destination.equals(s.destination())) {
                return empty(); // copies elsewhere: everything goes here anew
            }
            return s;
        } catch (NoSuchFileException | FileNotFoundException e) {
            return empty();
        } catch (IOException e) {
            throw new BackstopException(ExitCode.STORAGE, file + " cannot be read (" + e.getMessage() + "); move it"
                    + " aside: the next sync uploads every backup again and records them anew");
        }
    }

    void save(String target, State state) {
        Path file = file(target);
        try {
            Durable.writeAtomically(file, json.writerWithDefaultPrettyPrinter().writeValueAsBytes(state));
        } catch (IOException e) {
            throw Durable.storageError("cannot write " + file, e);
        }
    }

    private State empty() {
        return new State(STATE_FORMAT, destination, Map.of());
    }
}
