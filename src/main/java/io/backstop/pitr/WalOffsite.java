package io.backstop.pitr;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.config.Settings;
import io.backstop.crypt.Age;
import io.backstop.files.Durable;
import io.backstop.files.Hashing;
import io.backstop.files.TargetLock;
import io.backstop.offsite.ObjectStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A target's WAL archive and base backups in the offsite store, beside its dumps, under the cluster's
 * system identifier (a recreated cluster's segments have the old one's names):
 * {@code <prefix>/<target>/wal/<system id>/<segment>[.age]} and
 * {@code <prefix>/<target>/base/<system id>/<name>.tar[.age]} with {@code <name>.json} written last. Each object is uploaded once recorded locally, encrypted
 * when offsite encryption is on, under the object lock when one is set, and counts only after it reads
 * back with the size and checksum that were sent (the dumps' rule). What went is recorded in
 * {@code offsite-wal.json}. The store keeps what the host keeps of the current cluster: a base backup
 * removed locally is removed offsite, with the WAL no longer in the archive; an earlier cluster's copies
 * (its archive set aside) are never removed by Backstop.
 */
public final class WalOffsite {
    private static final Logger log = LoggerFactory.getLogger(WalOffsite.class);
    static final String LEDGER = "offsite-wal.json";

    private final Settings.Offsite settings;
    private final Settings.Encryption encryption;
    private final BackupLayout layout;
    private final ObjectMapper json;
    private final Clock clock;

    /** One object that went and read back. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Shipped(String key, long size, String sha256, Instant uploadedAt, String readback) {
    }

    /** What a target's WAL and base backups have offsite: by system id and local name (ID/SEGMENT, ID/base/NAME). */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record State(Map<String, Shipped> copies) {
        public State {
            copies = copies == null ? new TreeMap<>() : new TreeMap<>(copies);
        }
    }

    /** One sync: objects uploaded, their bytes, objects deleted. */
    public record Status(int uploaded, long bytes, int deleted) {
    }

    public WalOffsite(Settings.Offsite settings, Settings.Encryption encryption, BackupLayout layout, ObjectMapper json,
            Clock clock) {
        this.settings = settings;
        this.encryption = encryption;
        this.layout = layout;
        this.json = json;
        this.clock = clock;
    }

    public State state(String target) {
        Path file = layout.targetDir(target).resolve(LEDGER);
        try {
            return json.readValue(file.toFile(), State.class);
        } catch (NoSuchFileException | java.io.FileNotFoundException none) {
            return new State(null);
        } catch (IOException e) {
            throw Durable.storageError("cannot read " + file, e);
        }
    }

    /** Since when the oldest WAL or base backup without an offsite copy has waited; empty when none waits. */
    public Optional<Instant> waitingSince(String target) {
        State state = state(target);
        WalArchive archive = Pitr.archive(layout, target);
        try {
            String system = system(archive);
            Optional<Instant> wal = archive.entries().stream()
                    .filter(e -> !state.copies().containsKey(system + "/" + e.name()))
                    .map(WalArchive.Entry::recordedAt).min(Instant::compareTo);
            Optional<Instant> base = bases(target).list().stream()
                    .filter(b -> !state.copies().containsKey(system + "/" + baseName(b)))
                    .map(BaseBackups.Base::finishedAt)
                    .min(Instant::compareTo);
            return Stream.of(wal, base).flatMap(Optional::stream).min(Instant::compareTo);
        } catch (IOException e) {
            throw Durable.storageError("cannot read the WAL archive of " + target, e);
        }
    }

    /** Uploads what waits (WAL oldest first, then base backups), then removes what the host no longer keeps. */
    public Status sync(String target) {
        Path lockFile = layout.targetDir(target).resolve(".offsite-wal.lock");
        try (TargetLock lock = TargetLock.acquire(lockFile, target, Duration.ofMinutes(1));
                ObjectStore s3 = new ObjectStore(settings)) {
            State state = state(target);
            WalArchive archive = Pitr.archive(layout, target);
            String system = system(archive);
            int uploaded = 0;
            long bytes = 0;
            for (WalArchive.Entry e : archive.entries()) {
                if (!state.copies().containsKey(system + "/" + e.name())) {
                    Shipped s = upload(s3, key(target, "wal/" + system + "/" + e.name()), archive.dir().resolve(e.name()),
                            e.sha256(), layout.targetDir(target));
                    record(target, state, system + "/" + e.name(), s);
                    uploaded++;
                    bytes += s.size();
                }
            }
            BaseBackups bases = bases(target);
            for (BaseBackups.Base b : bases.list()) {
                String name = system + "/" + baseName(b);
                if (state.copies().containsKey(name)) {
                    continue;
                }
                Path tar = tar(bases.dataDir(b), layout.targetDir(target));
                try {
                    Shipped s = upload(s3, key(target, "base/" + system + "/" + b.name() + ".tar"), tar,
                            Hashing.sha256(tar), layout.targetDir(target));
                    record(target, state, name + ".tar", s);
                    uploaded++;
                    bytes += s.size();
                } finally {
                    Files.deleteIfExists(tar);
                }
                byte[] record = json.writeValueAsBytes(b);
                Instant now = clock.instant();
                String recordKey = key(target, "base/" + system + "/" + b.name() + ".json");
                s3.putSmall(recordKey, record, settings.lock(), retainUntil(now));
                record(target, state, name, new Shipped(recordKey, record.length, null, now, "base backup complete"));
                log.info("offsite {}: base backup {} copied", target, b.name());
            }
            int deleted = retain(target, s3, state, bases, archive, system);
            return new Status(uploaded, bytes, deleted);
        } catch (IOException e) {
            throw Durable.storageError("offsite copy of the WAL archive of " + target, e);
        }
    }

    /** The base backup as one tar file (what `tar -xf` puts back into an empty data directory), beside the target's files. */
    private static Path tar(Path dataDir, Path tmpDir) {
        Path tar = Durable.temporarySibling(tmpDir.resolve(dataDir.getFileName() + ".tar"));
        io.backstop.pg.ProcessRunner runner = new io.backstop.pg.ProcessRunner();
        io.backstop.pg.ProcessRunner.Spec spec = io.backstop.pg.ProcessRunner.Spec.of(List.of("tar", "-C",
                dataDir.toString(), "-cf", tar.toString(), "."), Map.of(), Duration.ofDays(1)).inBackground();
        io.backstop.pg.ProcessRunner.Result r = runner.run(spec, p -> { });
        if (r.exitCode() != 0) {
            throw runner.failure(spec, r, ExitCode.STORAGE);
        }
        return tar;
    }

    /** The cluster the archive is of; "unknown" where the role may not read it (pg_control_system()). */
    private static String system(WalArchive archive) throws IOException {
        return archive.systemIdentifier().orElse("unknown");
    }

    private BaseBackups bases(String target) {
        return new BaseBackups(layout.targetDir(target), null, json, clock);
    }

    private static String baseName(BaseBackups.Base b) {
        return "base/" + b.name();
    }

    private String key(String target, String name) {
        return (settings.prefix().isEmpty() ? "" : settings.prefix() + "/") + target + "/" + name;
    }

    private Instant retainUntil(Instant now) {
        return settings.lock().map(l -> now.plus(l.period())).orElse(null);
    }

    /** One file up (encrypted on the way when configured, its key then ending .age), read back, or an error naming it. */
    private Shipped upload(ObjectStore s3, String plainKey, Path file, String plainSha256, Path tmpDir)
            throws IOException {
        String key = plainKey + (encryption.offsiteEncrypted() ? Age.SUFFIX : "");
        Path source = file;
        Path temporary = null;
        try {
            Map<String, String> metadata = new LinkedHashMap<>();
            metadata.put("backstop-plain-sha256", plainSha256);
            String sha256 = plainSha256;
            if (encryption.offsiteEncrypted()) {
                temporary = Durable.temporarySibling(tmpDir.resolve(file.getFileName() + Age.SUFFIX));
                Files.deleteIfExists(temporary);
                Age.Encrypted e = Age.encryptFile(file, temporary, encryption.recipients(), true);
                if (!e.plainSha256().equals(plainSha256)) {
                    throw new BackstopException(ExitCode.BAD_BACKUP, file + " no longer matches its recorded sha256;"
                            + " it was not copied offsite");
                }
                sha256 = e.sha256().orElseThrow();
                source = temporary;
            }
            metadata.put("backstop-sha256", sha256);
            metadata.put("backstop-encryption", encryption.offsiteEncrypted() ? "age" : "none");
            Instant now = clock.instant();
            long length = Files.size(source);
            ObjectStore.Sent sent = s3.upload(key, source, length, Optional.empty(), metadata, settings.lock(),
                    retainUntil(now));
            return new Shipped(key, length, sha256, now, s3.readBack(key, sent, sha256));
        } finally {
            if (temporary != null) {
                Files.deleteIfExists(temporary);
            }
        }
    }

    private void record(String target, State state, String name, Shipped s) throws IOException {
        state.copies().put(name, s);
        Durable.writeAtomically(layout.targetDir(target).resolve(LEDGER), json.writeValueAsBytes(state));
    }

    /** Removes offsite what the host removed: base backups no longer kept, WAL older than the oldest kept. */
    private int retain(String target, ObjectStore s3, State state, BaseBackups bases, WalArchive archive,
            String system) throws IOException {
        List<BaseBackups.Base> kept = bases.list();
        if (kept.isEmpty()) {
            return 0;
        }
        java.util.Set<String> keptNames = new java.util.HashSet<>();
        kept.forEach(b -> keptNames.add(system + "/" + baseName(b)));
        java.util.Set<String> archived = new java.util.HashSet<>();
        archive.entries().forEach(e -> archived.add(system + "/" + e.name()));
        List<String> gone = new ArrayList<>();
        for (String name : state.copies().keySet()) {
            if (!name.startsWith(system + "/")) {
                continue; // an earlier cluster's: kept whole, as its archive is on this host
            }
            boolean base = name.startsWith(system + "/base/");
            String baseRoot = base ? name.replaceFirst("\\.tar$", "") : null;
            if (base ? !keptNames.contains(baseRoot) : !archived.contains(name)) {
                gone.add(name);
            }
        }
        int deleted = 0;
        for (String name : gone) {
            Shipped s = state.copies().get(name);
            ObjectStore.Deleted d = s3.delete(s.key());
            if (d.gone()) {
                deleted++;
                state.copies().remove(name);
            } else {
                log.info("offsite {}: {} stays ({}: object lock or a store that refuses deletes)", target, s.key(),
                        d.refusal());
                state.copies().remove(name); // the host no longer needs it; the store keeps it until its lock ends
            }
        }
        if (!gone.isEmpty()) {
            Durable.writeAtomically(layout.targetDir(target).resolve(LEDGER), json.writeValueAsBytes(state));
        }
        return deleted;
    }
}
