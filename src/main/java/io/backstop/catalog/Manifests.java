package io.backstop.catalog;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Integrity;
import io.backstop.catalog.Manifest;
import io.backstop.files.Durable;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads and atomically writes manifests. */
public final class Manifests {
    private final ObjectMapper json;
    private final Integrity integrity = new Integrity();

    public Manifests() {
        this.json = new ObjectMapper()
                .registerModule(new JavaTimeModule())
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(SerializationFeature.INDENT_OUTPUT);
    }

    public ObjectMapper json() {
        return json;
    }

    /** What this process knows about whether dumps still match their manifests. */
    public Integrity integrity() {
        return integrity;
    }

    /** The manifest beside {@code dump}; a clear error when it is missing, foreign or from a newer Backstop. */
    public Manifest read(Path dump) {
        Path file = BackupLayout.manifestOf(dump);
        Manifest manifest;
        try {
            manifest = json.readValue(file.toFile(), Manifest.class);
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            throw new BackstopException(ExitCode.BAD_BACKUP, dump + " has no manifest (" + file.getFileName()
                    + "): it is not a Backstop backup, or its manifest was removed");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new BackstopException(ExitCode.BAD_BACKUP, "manifest " + file + " is not a Backstop manifest: "
                    + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw Durable.storageError("cannot read manifest " + file, e);
        }
        if (manifest.formatVersion() < 1 || manifest.formatVersion() > Manifest.FORMAT_VERSION) {
            throw new BackstopException(ExitCode.BAD_BACKUP, "manifest " + file + " has format_version "
                    + manifest.formatVersion() + "; this Backstop reads 1 to " + Manifest.FORMAT_VERSION);
        }
        if (manifest.file() == null || !manifest.file().equals(dump.getFileName().toString())) {
            throw new BackstopException(ExitCode.BAD_BACKUP, "manifest " + file + " describes \"" + manifest.file()
                    + "\", not " + dump.getFileName());
        }
        return manifest;
    }

    /** Records in {@code dump}'s manifest that the file no longer matches it, so no later process trusts it again. */
    public Manifest markDamaged(Path dump, Manifest m, String why) {
        Manifest damaged = m.withDamage(why, java.time.Instant.now());
        write(dump, damaged);
        return damaged;
    }

    /** Writes {@code <dump>.json} through a temporary file, fsync and rename. */
    public void write(Path dump, Manifest manifest) {
        Path file = BackupLayout.manifestOf(dump);
        try {
            Durable.writeAtomically(file, json.writeValueAsBytes(manifest));
        } catch (IOException e) {
            throw Durable.storageError("cannot write manifest " + file, e);
        }
    }
}
