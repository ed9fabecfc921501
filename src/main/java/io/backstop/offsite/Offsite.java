package io.backstop.offsite;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Manifests;
import io.backstop.catalog.Tier;
import io.backstop.config.Settings;
import io.backstop.crypt.Age;
import io.backstop.files.Durable;
import io.backstop.files.Hashing;
import io.backstop.offsite.Checksum;
import io.backstop.retention.RetentionPlan;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Verified offsite copies. {@link #sync} uploads each verified local backup that has no copy yet
 * (newest first), encrypted to the age recipients when configured, reads the object's size and
 * checksum back, and only then uploads the manifest beside it and records the copy in
 * {@code <target>/offsite-*.json}: a copy counts (for retention, lag and restore) only once all of
 * that held. Offsite retention then applies its own counts to recorded copies only; pinned
 * backups and copies still under object lock stay. Nothing here ever changes a local backup.
 *
 * <p>Objects: {@code <prefix>/<target>/<tier>/<backup file>[.age]} and {@code ...<backup file>.json}
 * (the manifest: plain, no secrets, so a new host can choose a copy before it has the identity).
 */
public final class Offsite {
    private static final Logger log = LoggerFactory.getLogger(Offsite.class);
    private static final int STATE_FORMAT = 1;
    /** The largest object a server-side copy takes in one request. */
    private static final long MAX_COPY = 5L << 30;

    private final Settings.Offsite settings;
    private final Settings.Encryption encryption;
    private final BackupLayout layout;
    private final Catalog catalog;
    private final Manifests manifests;
    private final Clock clock;
    private ObjectStore store;

    public Offsite(Settings.Offsite settings, Settings.Encryption encryption, BackupLayout layout, Catalog catalog,
            Clock clock) {
        this.settings = settings;
        this.encryption = encryption;
        this.layout = layout;
        this.catalog = catalog;
        this.manifests = catalog.manifests();
        this.clock = clock;
    }

    public Settings.Offsite settings() {
        return settings;
    }

    private synchronized ObjectStore store() {
        if (store == null) {
            store = new ObjectStore(settings);
        }
        return store;
    }

    /** One copy whose upload was verified. {@code local} is the backup's path under its target, e.g. hourly/x.dump. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Copy(String local, String key, String manifestKey, Tier tier, long sequence, Instant startedAt,
            long size, String sha256, String plainSha256, boolean encrypted, Instant uploadedAt, String readback,
            Instant retainUntil, boolean pinned, boolean takenDuringAlarm) {
    }

    /**
     * {@code <target>/offsite-*.json}: the copies this Backstop uploaded and verified, and where to: a
     * state of another destination (the url or endpoint changed) counts for nothing there.
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record State(int formatVersion, String destination, Map<String, Copy> copies) {
        public State {
            copies = copies == null ? new TreeMap<>() : new TreeMap<>(copies);
        }
    }

    /** The bucket and prefix: another url is another set of copies (an endpoint may change its name, not its objects). */
    private String destination() {
        return settings.describe();
    }

    /** {@code <target>/offsite-<hash of the destination>.json}: each destination keeps its own record. */
    public Path stateFile(String target) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(destination().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return layout.targetDir(target).resolve("offsite-" + HexFormat.of().formatHex(h, 0, 4) + ".json");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What one sync did; {@code waitingSince}: when the newest local backup still without a copy was finished. */
    public record Status(int uploaded, int copied, long bytes, int deleted, int locked, Instant at) {
    }

    public State state(String target) {
        Path file = stateFile(target);
        try {
            State s = manifests.json().readValue(file.toFile(), State.class);
            if (!destination().equals(s.destination())) {
                return new State(STATE_FORMAT, destination(), Map.of()); // copies elsewhere: everything goes here anew
            }
            return s;
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            return new State(STATE_FORMAT, destination(), Map.of());
        } catch (IOException e) {
            throw new BackstopException(ExitCode.STORAGE, file + " cannot be read (" + e.getMessage() + "); move it"
                    + " aside: the next sync uploads every backup again and records them anew");
        }
    }

    private void save(String target, State state) {
        Path file = stateFile(target);
        try {
            Durable.writeAtomically(file, manifests.json().writerWithDefaultPrettyPrinter().writeValueAsBytes(state));
        } catch (IOException e) {
            throw Durable.storageError("cannot write " + file, e);
        }
    }

    /** When the newest verified local backup that still waits for its offsite copy was finished; empty when none waits. */
    public Optional<Instant> waitingSince(String target) {
        return pending(target, state(target)).stream()
                .map(e -> e.manifest().orElseThrow().finishedAt())
                .max(Comparator.naturalOrder());
    }

    /** The backups (as tier/file) that wait for their copy; see {@link #pending}. */
    public java.util.Set<String> waiting(String target) {
        return pending(target, state(target)).stream().map(Offsite::relative)
                .collect(java.util.stream.Collectors.toSet());
    }

    /**
     * The verified local backups without a copy that offsite retention would keep: one it would
     * delete at once (an hourly beyond the offsite count that is still kept locally) is never uploaded.
     */
    private List<Catalog.Entry> pending(String target, State state) {
        List<Catalog.Entry> local = catalog.list(target).stream().filter(Catalog.Entry::verified).toList();
        Map<String, Catalog.Entry> candidates = new LinkedHashMap<>();
        for (Copy c : state.copies().values()) {
            candidates.put(c.local(), new Catalog.Entry(Path.of(c.local()), c.tier(), Optional.of(asManifest(target, c)),
                    null, false));
        }
        for (Catalog.Entry e : local) {
            candidates.putIfAbsent(relative(e), new Catalog.Entry(Path.of(relative(e)), e.tier(), e.manifest(), null,
                    false));
        }
        java.util.Set<String> unwanted = new java.util.HashSet<>();
        for (RetentionPlan.Deletion d : RetentionPlan.plan(new ArrayList<>(candidates.values()), settings.retention())) {
            unwanted.add(d.file().toString());
        }
        return local.stream().filter(e -> !state.copies().containsKey(relative(e)) && !unwanted.contains(relative(e)))
                .toList();
    }

    /**
     * {@link #sync} under the target's offsite lock (the daemon and a CLI command never upload the
     * same backup twice, nor write offsite-*.json at once); waits at most {@code wait} for it.
     */
    public Status syncLocked(String target, java.time.Duration wait) {
        Path lockFile = layout.targetDir(target).resolve(".offsite.lock");
        Durable.createDirectories(layout.targetDir(target));
        io.backstop.files.TargetLock lock;
        try {
            lock = io.backstop.files.TargetLock.acquire(lockFile, target, wait);
        } catch (BackstopException e) {
            if (e.code() != ExitCode.BUSY) {
                throw e;
            }
            throw new BackstopException(ExitCode.BUSY, "another offsite upload of target " + target
                    + " is running (lock " + lockFile + "); it copies this backup too");
        }
        try (lock) {
            sweepUploads(target);
            return sync(target);
        }
    }

    /** Where encrypted copies are written before they go up; only a sync, under the offsite lock, touches it. */
    private Path uploadDir(String target) {
        return layout.targetDir(target).resolve(".offsite-upload");
    }

    /** What an interrupted sync left (an encrypted copy half written or not yet removed). */
    private void sweepUploads(String target) {
        Path dir = uploadDir(target);
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                log.info("removing leftover offsite upload file {} (an earlier sync was interrupted)", f);
                Files.deleteIfExists(f);
            }
        } catch (IOException e) {
            throw Durable.storageError("cannot sweep " + dir, e);
        }
    }

    /**
     * Uploads what is missing and applies offsite retention. Throws on the first failure (already
     * verified copies stay recorded); the caller retries later, and the next sync catches up.
     */
    private Status sync(String target) {
        State state = state(target);
        List<Catalog.Entry> pending = new ArrayList<>(pending(target, state));
        // Newest first (the copy that matters most after a host loss); within one backup, the hourly or manual
        // original before its promotions, which are then copied inside the store.
        pending.sort(Comparator.comparing((Catalog.Entry e) -> -e.manifest().orElseThrow().sequence())
                .thenComparing(Catalog.Entry::tier));
        int uploaded = 0;
        int copied = 0;
        long bytes = 0;
        try (Ahead ahead = new Ahead(target, pending, state)) {
            store().check(); // a success means the store answered, even when nothing waited
            for (Catalog.Entry e : pending) {
                Copy copy = ship(target, e, state, ahead);
                state.copies().put(copy.local(), copy);
                save(target, state);
                if (copy.readback().startsWith("copied in the store")) {
                    copied++;
                } else {
                    uploaded++;
                    bytes += copy.size();
                }
            }
        }
        int[] retention = applyRetention(target, state);
        return new Status(uploaded, copied, bytes, retention[0], retention[1], clock.instant());
    }

    /**
     * What a sync prepares for its uploads on a thread of its own, in upload order, so that the work
     * overlaps the S3 client's start and the bucket check, and each next copy's the upload before it:
     * <ul>
     * <li>for a file uploaded as it is, its checksum, with its sha256 checked against its manifest (a
     *     file damaged since its verification is never copied, whatever checksum the store is sent and
     *     whether or not the store checks it);
     * <li>for a file encrypted on its way (encryption.offsite), its encrypted copy in the upload
     *     directory, its plaintext checked against its manifest and its CRC32C taken ({@link #encrypt}).
     *     The first is started at once; each next one while the copy before it goes up, and only while
     *     the file system keeps room for another of its size after it: a copy waiting for its turn must
     *     never take the space the next local backup needs (without the room it is encrypted in its
     *     turn). At most one waits.
     * </ul>
     * Closing it stops what is still running and removes the encrypted copies no upload took.
     */
    private final class Ahead implements AutoCloseable {
        private final java.util.concurrent.ExecutorService thread;
        private final Map<Path, java.util.concurrent.Future<String>> sums = new java.util.HashMap<>();
        private final Map<Path, java.util.concurrent.Future<EncryptedCopy>> encryptions = new java.util.HashMap<>();
        /** The files to encrypt, in upload order; those before {@code next} are started. */
        private final List<Catalog.Entry> toEncrypt = new ArrayList<>();
        private final Path uploads;
        private int next;

        Ahead(String target, List<Catalog.Entry> pending, State state) {
            uploads = uploadDir(target);
            thread = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "offsite-ahead");
                t.setDaemon(true);
                return t;
            });
            Checksum algorithm = Checksum.parse(settings.checksum());
            java.util.Set<String> seen = new java.util.HashSet<>();
            for (Catalog.Entry e : pending) {
                Manifest m = e.manifest().orElseThrow();
                boolean already = BackupLayout.isEncrypted(e.file());
                boolean encrypt = encryption.offsiteEncrypted() && !already;
                if (!seen.add(m.sha256()) || inStore(state, m, encrypt || already).isPresent()) {
                    continue; // a promotion, copied in the store
                }
                if (encrypt) {
                    toEncrypt.add(e);
                    if (toEncrypt.size() == 1) {
                        startNext(false); // in upload order among the checksums
                    }
                    continue;
                }
                sums.put(e.file(), thread.submit(() -> {
                    long length = Files.size(e.file());
                    checkPlaintext(e.file(), m);
                    if (length > settings.multipartThreshold()) {
                        return null;
                    }
                    Optional<String> given = fromManifest(algorithm, m);
                    return given.isPresent() ? given.get() : algorithm.of(e.file(), 0, length);
                }));
            }
        }

        /** The file's checksum, taken ahead; empty when it was not, or for a multipart upload (parts have their own). */
        Optional<String> get(Path file) throws IOException {
            java.util.concurrent.Future<String> sum = sums.get(file);
            return sum == null ? Optional.empty() : Optional.ofNullable(await(sum, "taking the checksum of " + file));
        }

        boolean covers(Path file) {
            return sums.containsKey(file);
        }

        /**
         * The encrypted copy of {@code e}, started ahead or encrypted now; the caller removes its file.
         * Starts the next one.
         */
        EncryptedCopy encrypted(Catalog.Entry e) throws IOException {
            java.util.concurrent.Future<EncryptedCopy> ahead = encryptions.remove(e.file());
            EncryptedCopy encrypted;
            if (ahead != null) {
                encrypted = await(ahead, "encrypting " + e.file());
            } else {
                // Not started: there was no room for it beside the copy before it, or it was not foreseen.
                int at = toEncrypt.indexOf(e);
                next = Math.max(next, at + 1);
                encrypted = prepare(e);
            }
            startNext(true);
            return encrypted;
        }

        private void startNext(boolean besideAnother) {
            if (next >= toEncrypt.size()) {
                return;
            }
            Catalog.Entry e = toEncrypt.get(next);
            if (besideAnother && !roomForAnother(e.file())) {
                return;
            }
            next++;
            encryptions.put(e.file(), thread.submit(() -> prepare(e)));
        }

        private boolean roomForAnother(Path file) {
            try {
                Durable.createDirectories(uploads);
                return Files.getFileStore(uploads).getUsableSpace() > 2 * Files.size(file);
            } catch (IOException | RuntimeException ex) {
                return false; // encrypted in its turn, where a failure is reported
            }
        }

        private EncryptedCopy prepare(Catalog.Entry e) throws IOException {
            // Not beside the backup: a backup's start-up sweep would take it from under a running upload.
            Durable.createDirectories(uploads);
            Path out = uploads.resolve(BackupLayout.TEMP_PREFIX + e.tier().dir() + "-" + e.file().getFileName()
                    + Age.SUFFIX);
            long started = System.nanoTime();
            try {
                return new EncryptedCopy(out, encrypt(e.file(), out, e.manifest().orElseThrow()),
                        System.nanoTime() - started);
            } catch (IOException | RuntimeException ex) {
                Files.deleteIfExists(out);
                throw ex;
            }
        }

        @Override
        public void close() {
            thread.shutdownNow();
            try {
                if (!thread.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES)) {
                    log.warn("offsite: an encryption ahead did not stop within a minute; its file is swept by the next"
                            + " sync");
                }
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
            for (java.util.concurrent.Future<EncryptedCopy> f : encryptions.values()) {
                if (f.isDone() && !f.isCancelled()) {
                    try {
                        Files.deleteIfExists(f.get().file());
                    } catch (IOException | java.util.concurrent.ExecutionException | InterruptedException
                            | RuntimeException ignored) {
                        // failed (its file is removed then) or swept at the next sync
                    }
                }
            }
        }
    }

    /** An encrypted copy made for an upload: its file, what encryption wrote, and how long it took. */
    private record EncryptedCopy(Path file, Age.Encrypted sums, long nanos) {
    }

    private static <T> T await(java.util.concurrent.Future<T> work, String what) throws IOException {
        try {
            return work.get();
        } catch (java.util.concurrent.ExecutionException ex) {
            if (ex.getCause() instanceof BackstopException b) {
                throw b;
            }
            if (ex.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IllegalStateException(ex.getCause());
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while " + what);
        }
    }

    /** The checksum the manifest already gives: its sha256, when that is what the store is sent. */
    private static Optional<String> fromManifest(Checksum algorithm, Manifest m) {
        return algorithm == Checksum.SHA256
                ? Optional.of(java.util.Base64.getEncoder().encodeToString(HexFormat.of().parseHex(m.sha256())))
                : Optional.empty();
    }

    /** A copy already in the store of the same backup (a promotion's original), which the store can copy. */
    private static Optional<Copy> inStore(State state, Manifest m, boolean encrypted) {
        return state.copies().values().stream()
                .filter(c -> c.plainSha256().equals(m.sha256()) && c.encrypted() == encrypted && c.size() <= MAX_COPY)
                .findFirst();
    }

    /** A file whose sha256 is no longer its manifest's is never copied. */
    private static void checkPlaintext(Path file, Manifest m) {
        if (!io.backstop.files.Hashing.sha256(file).equals(m.sha256())) {
            throw damaged(file);
        }
    }

    private static BackstopException damaged(Path file) {
        return new BackstopException(ExitCode.BAD_BACKUP, file + " no longer matches the sha256 in its manifest;"
                + " it is not copied offsite (backstop list shows it DAMAGED after the next scan)");
    }

    private static String relative(Catalog.Entry e) {
        return e.tier().dir() + "/" + e.file().getFileName();
    }

    String key(String target, Tier tier, String file) {
        return (settings.prefix().isEmpty() ? "" : settings.prefix() + "/") + target + "/" + tier.dir() + "/" + file;
    }

    private Copy ship(String target, Catalog.Entry e, State state, Ahead ahead) {
        Manifest m = e.manifest().orElseThrow();
        String name = e.file().getFileName().toString();
        boolean already = BackupLayout.isEncrypted(e.file()); // encryption.local: copied as it is, never twice
        boolean encrypt = encryption.offsiteEncrypted() && !already;
        String key = key(target, e.tier(), name) + (encrypt ? Age.SUFFIX : "");
        String manifestKey = key(target, e.tier(), name) + BackupLayout.MANIFEST_SUFFIX;
        Instant now = clock.instant();
        Instant retainUntil = settings.lock().map(l -> now.plus(l.period())).orElse(null);
        byte[] manifestJson;
        try {
            manifestJson = manifests.json().writeValueAsBytes(m);
        } catch (IOException ex) {
            throw new IllegalStateException(ex);
        }
        ObjectStore s3 = store();

        // A promotion (daily, weekly, monthly) is a hard link of a backup already copied: copy it in the store.
        Optional<Copy> same = inStore(state, m, encrypt || already);
        if (same.isPresent()) {
            s3.copy(same.get().key(), key, settings.lock(), retainUntil);
            String readback = readBack(s3, key, new ObjectStore.Sent(same.get().size(),
                    s3.head(same.get().key()).map(ObjectStore.Head::checksum).orElse(null), null,
                    s3.checksum().label()), same.get().sha256());
            s3.putSmall(manifestKey, manifestJson, settings.lock(), retainUntil);
            log.info("offsite {}: {} copied in the store from {} ({} bytes)", target, key, same.get().key(),
                    same.get().size());
            return new Copy(relative(e), key, manifestKey, e.tier(), m.sequence(), m.startedAt(), same.get().size(),
                    same.get().sha256(), m.sha256(), encrypt || already, now, "copied in the store; " + readback,
                    retainUntil,
                    m.pinned(), m.takenDuringAlarm());
        }

        Path source = e.file();
        Path temporary = null;
        long started = System.nanoTime();
        try {
            String sha256; // of the object; null for a copy encrypted on its way whose store checksum stands for it
            Optional<String> checksum; // what the store is sent to verify, when already taken
            EncryptedCopy encrypted = null;
            if (encrypt) {
                encrypted = ahead.encrypted(e);
                temporary = encrypted.file();
                sha256 = encrypted.sums().sha256().orElse(null);
                checksum = switch (s3.checksum()) {
                    case CRC32C -> Optional.of(encrypted.sums().crc32c());
                    case SHA256 -> Optional.of(java.util.Base64.getEncoder().encodeToString(HexFormat.of()
                            .parseHex(encrypted.sums().sha256().orElseThrow())));
                    case MD5 -> Optional.empty();
                };
                source = temporary;
            } else {
                sha256 = m.sha256();
                if (ahead.covers(e.file())) {
                    checksum = ahead.get(e.file());
                } else {
                    checkPlaintext(e.file(), m);
                    checksum = fromManifest(s3.checksum(), m);
                }
            }
            long length = Files.size(source);
            Map<String, String> metadata = new LinkedHashMap<>();
            if (sha256 != null) {
                metadata.put("backstop-sha256", sha256);
            }
            metadata.put("backstop-plain-sha256", m.sha256());
            metadata.put("backstop-encryption", encrypt || already ? "age" : "none");
            long prepared = System.nanoTime();
            ObjectStore.Sent sent = s3.upload(key, source, length, checksum, metadata, settings.lock(), retainUntil);
            long put = System.nanoTime();
            String readback = readBack(s3, key, sent, sha256);
            s3.putSmall(manifestKey, manifestJson, settings.lock(), retainUntil);
            long done = System.nanoTime();
            double seconds = (done - started) / 1e9;
            log.info("offsite {}: {} uploaded{} and verified ({}): {} bytes in {} s ({} MB/s; {}upload {} s by {}, read"
                    + " back and manifest {} s)", target, key, encrypt ? " encrypted" : "", readback, length,
                    String.format(java.util.Locale.ROOT, "%.2f", seconds),
                    String.format(java.util.Locale.ROOT, "%.0f", length / 1e6 / Math.max(seconds, 1e-3)),
                    encrypted != null ? String.format(java.util.Locale.ROOT, "encryption %.2f s ahead, %.2f s of it"
                            + " waited for, ", encrypted.nanos() / 1e9, (prepared - started) / 1e9) : "",
                    String.format(java.util.Locale.ROOT, "%.2f", (put - prepared) / 1e9), sent.by(),
                    String.format(java.util.Locale.ROOT, "%.2f", (done - put) / 1e9));
            return new Copy(relative(e), key, manifestKey, e.tier(), m.sequence(), m.startedAt(), length,
                    sha256, m.sha256(), encrypt || already, now, readback, retainUntil, m.pinned(),
                    m.takenDuringAlarm());
        } catch (IOException ex) {
            throw Durable.storageError("offsite copy of " + e.file(), ex);
        } finally {
            if (temporary != null) {
                try {
                    Files.deleteIfExists(temporary);
                } catch (IOException ignored) {
                    // swept at the next start with the other temporary files
                }
            }
        }
    }

    /**
     * The object as the store now holds it: size, the checksum it computed on receipt, and the sha256 in
     * its metadata (when {@code sha256Hex} is not null) must be what was sent.
     */
    private static String readBack(ObjectStore s3, String key, ObjectStore.Sent sent, String sha256Hex) {
        ObjectStore.Head head = s3.head(key).orElseThrow(() -> new BackstopException(ExitCode.OFFSITE,
                "uploaded " + key + " to " + s3.where() + " but it is not there on read back"));
        if (head.size() != sent.size()) {
            throw new BackstopException(ExitCode.OFFSITE, key + " in " + s3.where() + " reads back " + head.size()
                    + " bytes; " + sent.size() + " were sent");
        }
        if (sha256Hex != null && !sha256Hex.equals(head.metadata().get("backstop-sha256"))) {
            throw new BackstopException(ExitCode.OFFSITE, key + " in " + s3.where() + " reads back another sha256"
                    + " in its metadata than was sent");
        }
        if (sent.checksum() != null && head.checksum() != null) {
            if (!sent.checksum().equals(head.checksum())) {
                throw new BackstopException(ExitCode.OFFSITE, key + " in " + s3.where() + ": the store's checksum "
                        + head.checksum() + " is not the " + sent.checksum() + " sent");
            }
            return "size + " + sent.method() + " read back";
        }
        if (sent.eTag() == null) {
            return sha256Hex != null ? "size + sha256 metadata read back" : "size read back";
        }
        if (sent.eTag() != null && head.eTag() != null && !sent.eTag().equals(head.eTag())) {
            throw new BackstopException(ExitCode.OFFSITE, key + " in " + s3.where() + " reads back ETag " + head.eTag()
                    + ", the upload answered " + sent.eTag());
        }
        return "size + ETag read back (the store keeps no " + sent.method() + ")";
    }

    /**
     * Encrypts {@code file} into {@code out}: the plaintext's sha256 must still be the manifest's
     * (a file damaged since its verification is never copied).
     */
    private Age.Encrypted encrypt(Path file, Path out, Manifest m) throws IOException {
        // Not fsynced: a copy on its way up, swept at the next start if the machine stops meanwhile.
        Age.Encrypted encrypted = Age.encryptFile(file, out, encryption.recipients(), ciphertextSha256(file));
        if (!encrypted.plainSha256().equals(m.sha256())) {
            throw damaged(file);
        }
        return encrypted;
    }

    /**
     * Whether an encrypted copy's own sha256 is taken (a pass of OpenSSL over every byte, on the CPU
     * the upload waits for). Not when it goes up in one PUT with its CRC32C: the store verifies that on
     * receipt and reports it back, a download checks it, and age's authentication of every 64 KiB
     * chunk and the plaintext's sha256 against the manifest prove a decrypted copy whole. Taken when
     * the store is sent a sha256, keeps no checksum of its own (Content-MD5), or one of parts only (a
     * multipart upload: the copy's bound, with age's 16 bytes a chunk and its header, is past the threshold).
     */
    private boolean ciphertextSha256(Path plain) throws IOException {
        long size = Files.size(plain);
        long bound = size + size / 4096 + (1 << 20);
        return Checksum.parse(settings.checksum()) != Checksum.CRC32C || bound > settings.multipartThreshold();
    }

    /** Applies offsite retention to recorded copies; returns {deleted, kept because locked}. */
    private int[] applyRetention(String target, State state) {
        List<Catalog.Entry> entries = new ArrayList<>();
        boolean changed = false;
        for (Copy c : new ArrayList<>(state.copies().values())) {
            Manifest m = asManifest(target, c);
            if (m.pinned() != c.pinned()) {
                // Remember the pin as it is now: once the local file is gone, the last one seen decides.
                state.copies().put(c.local(), new Copy(c.local(), c.key(), c.manifestKey(), c.tier(), c.sequence(),
                        c.startedAt(), c.size(), c.sha256(), c.plainSha256(), c.encrypted(), c.uploadedAt(),
                        c.readback(), c.retainUntil(), m.pinned(), c.takenDuringAlarm()));
                changed = true;
            }
            entries.add(new Catalog.Entry(Path.of(c.local()), c.tier(), Optional.of(m), null, false));
        }
        if (changed) {
            save(target, state);
        }
        int deleted = 0;
        int locked = 0;
        Instant now = clock.instant();
        for (RetentionPlan.Deletion d : RetentionPlan.plan(entries, settings.retention())) {
            Copy c = state.copies().get(d.file().toString());
            if (c.retainUntil() != null && now.isBefore(c.retainUntil())) {
                locked++;
                continue; // retained by object lock: not an error, and not retried as one
            }
            ObjectStore.Deleted gone = store().delete(c.key());
            if (!gone.gone()) {
                locked++;
                log.info("offsite {}: {} is due to go ({}) but the store refuses the delete ({}: object lock or a"
                        + " policy); it stays", target, c.key(), d.reason(), gone.refusal());
                continue;
            }
            store().delete(c.manifestKey());
            state.copies().remove(c.local());
            save(target, state);
            deleted++;
            log.info("offsite {}: deleted {} ({})", target, c.key(), d.reason());
        }
        return new int[] {deleted, locked};
    }

    /** What retention needs of a copy: its order, and whether its backup is pinned now (the local manifest wins). */
    private Manifest asManifest(String target, Copy c) {
        boolean pinned = c.pinned();
        Path local = layout.targetDir(target).resolve(c.local());
        if (Files.isRegularFile(local)) {
            try {
                pinned = manifests.read(local).pinned();
            } catch (BackstopException e) {
                // keep what was recorded at upload
            }
        }
        return new Manifest(Manifest.FORMAT_VERSION, c.sequence(), target, null, null, 0, null, null, null, 0,
                Path.of(c.local()).getFileName().toString(), c.tier(), null, c.startedAt(), c.startedAt(), 0, c.size(),
                c.plainSha256(), null, Map.of(), new Manifest.Verification("offsite read back", "passed", c.uploadedAt(), 0),
                pinned, pinned ? "pinned locally" : null, null, c.takenDuringAlarm(), null, null, 0);
    }

    // ---- reading copies back, on this host or a new one ----

    /** One copy found in the store: its object, manifest and whether it is encrypted. */
    public record Remote(String key, String manifestKey, Tier tier, long size, Manifest manifest, boolean encrypted) {
        public String name() {
            return manifest.file();
        }
    }

    /** Every copy of {@code target} in the store with both its object and its manifest, oldest first. */
    public List<Remote> remote(String target) {
        ObjectStore s3 = store();
        String base = (settings.prefix().isEmpty() ? "" : settings.prefix() + "/") + target + "/";
        Map<String, ObjectStore.Listed> objects = new LinkedHashMap<>();
        for (ObjectStore.Listed o : s3.list(base)) {
            objects.put(o.key(), o);
        }
        List<Remote> copies = new ArrayList<>();
        for (String k : objects.keySet()) {
            if (!k.endsWith(BackupLayout.MANIFEST_SUFFIX)) {
                continue;
            }
            String dump = k.substring(0, k.length() - BackupLayout.MANIFEST_SUFFIX.length());
            String rest = k.substring(base.length());
            int slash = rest.indexOf('/');
            if (slash < 0) {
                continue;
            }
            Tier tier;
            try {
                tier = Tier.parse(rest.substring(0, slash));
            } catch (IllegalArgumentException e) {
                continue;
            }
            String objectKey = objects.containsKey(dump) ? dump : dump + Age.SUFFIX;
            if (!objects.containsKey(objectKey)) {
                continue; // a manifest whose object is gone (deleted half-way): not a copy
            }
            boolean encrypted = objectKey.endsWith(Age.SUFFIX);
            Manifest m;
            try {
                m = manifests.json().readValue(s3.getSmall(k), Manifest.class);
            } catch (IOException e) {
                continue; // not one of ours
            }
            copies.add(new Remote(objectKey, k, tier, objects.get(objectKey).size(), m, encrypted));
        }
        copies.sort(Comparator.comparing((Remote r) -> r.manifest().startedAt()).thenComparing(Remote::key));
        return copies;
    }

    /**
     * The copy a reference names: {@code latest} (the newest regular backup taken with no alarm
     * raised), a file name, a label, or a timestamp prefix (as for local backups).
     */
    public Remote choose(String target, String reference) {
        List<Remote> all = remote(target);
        String ref = reference == null || reference.isBlank() ? "latest" : reference;
        List<Remote> matching;
        if (ref.equals("latest")) {
            matching = all.stream().filter(r -> r.tier().regular() && !r.manifest().takenDuringAlarm()
                    && r.manifest().verified()).toList();
        } else {
            String prefix = ref.replace("-", "").replace(":", "");
            matching = all.stream().filter(r -> r.name().equals(ref) || r.key().endsWith("/" + ref)
                    || ref.equals(r.manifest().label())
                    || (r.tier().regular() && BackupLayout.stamp(r.manifest().startedAt()).startsWith(prefix))).toList();
        }
        if (matching.isEmpty()) {
            throw new BackstopException(ExitCode.BAD_BACKUP, "no offsite copy of target " + target + " matches \""
                    + ref + "\" in " + store().where() + " (" + all.size() + " copies there; backstop list --offsite"
                    + " shows them)");
        }
        return matching.get(matching.size() - 1);
    }

    /**
     * Downloads a copy into {@code <target>/offsite/} (checking the object's sha256 as it arrives, or
     * for a copy encrypted on its way up with a CRC32C, the store's),
     * decrypts it with {@code identity} when it is encrypted, and writes its manifest beside it:
     * the result is a local backup file that restore checks against the manifest's sha256. It stays
     * there after the restore, for the operator (the next fetch of the same copy downloads it again).
     */
    public Path fetch(String target, Remote copy, Optional<Path> identity) {
        return download(copy, identity, downloads(target));
    }

    /**
     * A copy fetched for a drill: downloaded as {@link #fetch} does, into a directory of its own under
     * {@code <target>/offsite/}, locked while the drill reads it and removed when it is closed, so that a
     * drill leaves no copy behind (a decrypted one least of all). A drill killed half-way leaves the
     * directory unlocked, and the next fetch removes it.
     */
    public Fetched fetchForDrill(String target, Remote copy, Optional<Path> identity) {
        Path dir = downloads(target).resolve(DRILL_PREFIX + java.util.UUID.randomUUID().toString().substring(0, 8));
        FileChannel lock = null;
        Fetched fetched = null;
        try {
            Files.createDirectory(dir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
            lock = FileChannel.open(dir.resolve(DRILL_LOCK), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            lock.lock();
            fetched = new Fetched(download(copy, identity, dir), dir, lock);
            return fetched;
        } catch (IOException e) {
            throw Durable.storageError("cannot make " + dir + " for the drill's download", e);
        } finally {
            if (fetched == null) {
                removeDrillDir(dir, lock); // nothing handed over: nothing left behind
            }
        }
    }

    /** A copy downloaded for one drill; closing it removes the copy, its manifest and their directory. */
    public static final class Fetched implements AutoCloseable {
        private final Path file;
        private final Path dir;
        private final FileChannel lock;

        private Fetched(Path file, Path dir, FileChannel lock) {
            this.file = file;
            this.dir = dir;
            this.lock = lock;
        }

        public Path file() {
            return file;
        }

        @Override
        public void close() {
            removeDrillDir(dir, lock);
        }
    }

    private static final String DRILL_PREFIX = ".drill-";
    private static final String DRILL_LOCK = ".lock";

    /** Removes a drill's download directory; its lock (when held) is released last, so no sweep races it. */
    private static void removeDrillDir(Path dir, FileChannel lock) {
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (!f.getFileName().toString().equals(DRILL_LOCK)) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(dir.resolve(DRILL_LOCK));
            Files.deleteIfExists(dir);
        } catch (NoSuchFileException e) {
            // never made, or removed already
        } catch (IOException e) {
            log.warn("could not remove the drill's download {} ({}); the next offsite fetch removes it", dir,
                    e.toString());
        } finally {
            if (lock != null) {
                try {
                    lock.close();
                } catch (IOException ignored) {
                    // closing releases the lock; nothing else to do
                }
            }
        }
    }

    /** {@code <target>/offsite/}, made if missing, without what interrupted downloads and drills left there. */
    private Path downloads(String target) {
        Path dir = layout.targetDir(target).resolve("offsite");
        Durable.createDirectories(dir);
        sweepDownloads(dir);
        return dir;
    }

    private Path download(Remote copy, Optional<Path> identity, Path dir) {
        // Encrypted locally too (encryption.local): kept as it is, as its manifest describes it; restore decrypts.
        boolean decrypt = copy.encrypted() && !copy.name().endsWith(Age.SUFFIX);
        if (copy.encrypted() && identity.isEmpty()) {
            throw new BackstopException(ExitCode.USAGE, copy.key() + " is encrypted; give the age identity that"
                    + " decrypts it: --identity FILE or BACKSTOP_AGE_IDENTITY_FILE");
        }
        ObjectStore s3 = store();
        Path file = dir.resolve(copy.name());
        // A name of its own (two restores may fetch the same copy at once), locked while it is written.
        Path tmp = Durable.temporarySibling(file);
        Optional<ObjectStore.Head> head = s3.head(copy.key());
        String expected = head.map(h -> h.metadata().get("backstop-sha256")).orElse(null);
        // Encrypted on its way up and sent with its CRC32C, it has no sha256 of its own: the store's CRC32C,
        // verified on receipt, stands for it (a multipart upload's "-N" is one of parts, not of the bytes).
        String expectedCrc = expected != null || s3.checksum() != Checksum.CRC32C ? null
                : head.map(ObjectStore.Head::checksum).filter(c -> !c.contains("-")).orElse(null);
        long started = System.nanoTime();
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            CRC32C crc = new CRC32C();
            try (FileChannel channel = FileChannel.open(Durable.createPrivate(tmp), StandardOpenOption.WRITE)) {
                channel.lock(); // held until the channel closes: another fetch's sweep leaves the file be
                try (InputStream raw = new java.util.zip.CheckedInputStream(new DigestInputStream(s3.get(copy.key()),
                        digest), crc);
                        InputStream in = decrypt ? Age.decrypting(raw, identity.get(), copy.key()) : raw) {
                    try {
                        in.transferTo(Channels.newOutputStream(channel)); // closed with the channel, after the rename
                    } catch (IOException e) {
                        if (!decrypt || !decryption(e)) {
                            throw e;
                        }
                        // The identity opened the header, so it is the right key: these bytes are damaged ones.
                        raw.transferTo(OutputStream.nullOutputStream()); // the rest, for the checksum's word on it
                        checkDownloaded(copy.key(), digest, expected, crc, expectedCrc);
                        throw new BackstopException(ExitCode.BAD_BACKUP, copy.key() + " is damaged: its bytes fail"
                                + " age's authentication (" + e.getClass().getSimpleName() + ")");
                    }
                    raw.transferTo(OutputStream.nullOutputStream()); // whatever the decryptor left: the digest covers all
                }
                checkDownloaded(copy.key(), digest, expected, crc, expectedCrc);
                channel.force(true);
                Durable.rename(tmp, file); // still locked: no sweep takes it between the check and the rename
            }
            manifests.write(file, copy.manifest());
            log.info("offsite: {} downloaded{} to {} in {} s", copy.key(), decrypt ? " and decrypted"
                    : "", file, String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - started) / 1e9));
            return file;
        } catch (IOException e) {
            if (decryption(e)) {
                throw new BackstopException(ExitCode.BAD_BACKUP, copy.key() + " cannot be decrypted with the identity"
                        + " given (" + e.getClass().getSimpleName() + "): another key, or a damaged copy");
            }
            throw Durable.storageError("downloading " + copy.key() + " to " + file, e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // swept by the next fetch
            }
        }
    }

    /** A failure of age's decryption (the Jagged library's), rather than of the download. */
    private static boolean decryption(IOException e) {
        return e.getCause() instanceof java.security.GeneralSecurityException || e.getClass().getName().contains("jagged");
    }

    /** The bytes downloaded must be those the store was sent: their sha256 recorded at upload, or its CRC32C. */
    private static void checkDownloaded(String key, MessageDigest digest, String expected, CRC32C crc,
            String expectedCrc) {
        String got = HexFormat.of().formatHex(digest.digest());
        if (expected != null && !expected.equals(got)) {
            throw new BackstopException(ExitCode.BAD_BACKUP, key + " downloaded with sha256 " + got + ", not the "
                    + expected + " recorded at upload: the copy is damaged");
        }
        String gotCrc = Checksum.base64(crc);
        if (expectedCrc != null && !expectedCrc.equals(gotCrc)) {
            throw new BackstopException(ExitCode.BAD_BACKUP, key + " downloaded with crc32c " + gotCrc + ", not the "
                    + expectedCrc + " the store verified at upload: the copy is damaged");
        }
    }

    /**
     * Removes what an interrupted restore or verify left in {@code <target>/offsite/}: a half-written
     * download, or a drill's download directory, that no running process holds locked (a fetch or a
     * drill in progress keeps its file locked, so it is left be).
     */
    private static void sweepDownloads(Path dir) {
        try (var files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                boolean drill = f.getFileName().toString().startsWith(DRILL_PREFIX) && Files.isDirectory(f);
                if (!drill && !(BackupLayout.isTemporary(f) && Files.isRegularFile(f))) {
                    continue;
                }
                try (FileChannel channel = FileChannel.open(drill ? f.resolve(DRILL_LOCK) : f,
                        StandardOpenOption.WRITE); FileLock free = channel.tryLock()) {
                    if (free == null) {
                        continue;
                    }
                    log.info("removing {}, left by an interrupted offsite {}", f, drill ? "drill" : "download");
                    if (drill) {
                        removeDrillDir(f, null);
                    } else {
                        Files.deleteIfExists(f);
                    }
                } catch (java.nio.channels.OverlappingFileLockException e) {
                    // in use by this process
                } catch (NoSuchFileException e) {
                    // gone already, or a drill's directory before its lock is made (empty: left be)
                }
            }
        } catch (IOException e) {
            throw Durable.storageError("cannot sweep " + dir, e);
        }
    }

    public String where() {
        return store().where();
    }
}
