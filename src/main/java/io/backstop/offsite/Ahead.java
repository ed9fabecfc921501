package io.backstop.offsite;

import io.backstop.Background;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifest;
import io.backstop.crypt.Age;
import io.backstop.files.Durable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
final class Ahead implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Ahead.class);
    private final Shipping shipping;
    private final java.util.concurrent.ExecutorService thread;
    private final Map<Path, java.util.concurrent.Future<String>> sums = new java.util.HashMap<>();
    private final Map<Path, java.util.concurrent.Future<EncryptedCopy>> encryptions = new java.util.HashMap<>();
    /** The files to encrypt, in upload order; those before {@code next} are started. */
    private final List<Catalog.Entry> toEncrypt = new ArrayList<>();
    private final Path uploads;
    private int next;

    Ahead(Shipping shipping, String target, List<Catalog.Entry> pending, Ledger.State state) {
        this.shipping = shipping;
        uploads = shipping.uploadDir(target);
        thread = java.util.concurrent.Executors.newSingleThreadExecutor(Background.threads("offsite-ahead"));
        Checksum algorithm = shipping.checksum();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (Catalog.Entry e : pending) {
            Manifest m = e.manifest().orElseThrow();
            boolean already = BackupLayout.isEncrypted(e.file());
            boolean encrypt = shipping.encrypting() && !already;
            if (!seen.add(m.sha256()) || Shipping.inStore(state, m, encrypt || already).isPresent()) {
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
                Shipping.checkPlaintext(e.file(), m);
                if (length > shipping.multipartThreshold()) {
                    return null;
                }
                Optional<String> given = Shipping.fromManifest(algorithm, m);
                return given.isPresent() ? given.get() : algorithm.of(e.file(), 0, length);
            }));
        }
    }

    /** The file's checksum, taken ahead; empty when it was not, or for a multipart upload (parts have their own). */
    Optional<String> get(Path file) throws IOException {
        java.util.concurrent.Future<String> sum = sums.get(file);
        return sum == null ? Optional.empty() : Optional.ofNullable(Shipping.await(sum, "taking the checksum of " + file));
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
            encrypted = Shipping.await(ahead, "encrypting " + e.file());
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
            return new EncryptedCopy(out, shipping.encrypt(e.file(), out, e.manifest().orElseThrow()),
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

    /** An encrypted copy made for an upload: its file, what encryption wrote, and how long it took. */
    record EncryptedCopy(Path file, Age.Encrypted sums, long nanos) {
    }
}
