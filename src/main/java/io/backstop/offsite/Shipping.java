package io.backstop.offsite;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Tier;
import io.backstop.config.Settings;
import io.backstop.crypt.Age;
import io.backstop.files.Durable;
import io.backstop.files.Sweep;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ships one backup: uploaded as it is or encrypted on its way (encryption.offsite), or copied inside the
 * store when a copy of the same backup is there already (a promotion); the object is read back (size,
 * the store's checksum, the sha256 in its metadata) before its manifest goes up beside it.
 */
final class Shipping {
    private static final Logger log = LoggerFactory.getLogger(Shipping.class);
    /** The largest object a server-side copy takes in one request. */
    private static final long MAX_COPY = 5L << 30;

    private final Settings.Offsite settings;
    private final Settings.Encryption encryption;
    private final BackupLayout layout;
    private final Supplier<ObjectStore> store;
    private final ObjectMapper json;
    private final Clock clock;

    Shipping(Settings.Offsite settings, Settings.Encryption encryption, BackupLayout layout,
            Supplier<ObjectStore> store, ObjectMapper json, Clock clock) {
        this.settings = settings;
        this.encryption = encryption;
        this.layout = layout;
        this.store = store;
        this.json = json;
        this.clock = clock;
    }

    /** The checksum each upload carries for the store to verify ({@code offsite.checksum}). */
    Checksum checksum() {
        return Checksum.parse(settings.checksum());
    }

    /** Whether copies are encrypted on their way up (encryption.offsite). */
    boolean encrypting() {
        return encryption.offsiteEncrypted();
    }

    long multipartThreshold() {
        return settings.multipartThreshold();
    }

    /** Where encrypted copies are written before they go up; only a sync, under the offsite lock, touches it. */
    Path uploadDir(String target) {
        return layout.targetDir(target).resolve(".offsite-upload");
    }

    /** What an interrupted sync left (an encrypted copy half written or not yet removed). */
    void sweepUploads(String target) {
        // Only a sync, under the offsite lock, writes here: whatever is here, an interrupted sync left.
        Sweep.run(uploadDir(target), f -> "an offsite upload file of an interrupted sync");
    }

    String key(String target, Tier tier, String file) {
        return (settings.prefix().isEmpty() ? "" : settings.prefix() + "/") + target + "/" + tier.dir() + "/" + file;
    }

    /** Uploads (or copies in the store) one backup, reads it back, then its manifest: the copy to record. */
    Copy ship(String target, Catalog.Entry e, Ledger.State state, Ahead ahead) {
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
            manifestJson = json.writeValueAsBytes(m);
        } catch (IOException ex) {
            throw new IllegalStateException(ex);
        }
        ObjectStore s3 = store.get();

        // A promotion (daily, weekly, monthly) is a hard link of a backup already copied: copy it in the store.
        Optional<Copy> same = inStore(state, m, encrypt || already);
        if (same.isPresent()) {
            s3.copy(same.get().key(), key, settings.lock(), retainUntil);
            String readback = s3.readBack(key, new ObjectStore.Sent(same.get().size(),
                    s3.head(same.get().key()).map(ObjectStore.Head::checksum).orElse(null), null,
                    s3.checksum().label()), same.get().sha256());
            try {
                shipGlobals(s3, target, e, m, encrypt, retainUntil);
            } catch (IOException ex) {
                throw Durable.storageError("offsite copy of " + BackupLayout.globalsOf(e.file()), ex);
            }
            s3.putSmall(manifestKey, manifestJson, settings.lock(), retainUntil);
            log.info("offsite {}: {} copied in the store from {} ({} bytes)", target, key, same.get().key(),
                    same.get().size());
            return new Copy(UploadPlan.relative(e), key, manifestKey, e.tier(), m.sequence(), m.startedAt(), same.get().size(),
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
            Ahead.EncryptedCopy encrypted = null;
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
            String readback = s3.readBack(key, sent, sha256);
            shipGlobals(s3, target, e, m, encrypt, retainUntil);
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
            return new Copy(UploadPlan.relative(e), key, manifestKey, e.tier(), m.sequence(), m.startedAt(), length,
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
     * The globals file beside a backup goes with it (before its manifest, which makes the copy count), encrypted
     * when the backup's copy is; one no longer matching its manifest's sha256 is never copied.
     */
    private void shipGlobals(ObjectStore s3, String target, Catalog.Entry e, Manifest m, boolean encrypt,
            Instant retainUntil) throws IOException {
        Path globals = BackupLayout.globalsOf(e.file());
        if (m.globals() == null || !m.globals().taken() || !Files.isRegularFile(globals)) {
            return;
        }
        byte[] bytes = Files.readAllBytes(globals);
        String sha256 = java.util.HexFormat.of().formatHex(sha256(bytes));
        if (!sha256.equals(m.globals().sha256())) {
            throw new BackstopException(ExitCode.BAD_BACKUP, globals + " no longer matches its manifest (sha256 " + sha256
                    + ", recorded " + m.globals().sha256() + "); its backup is not copied until it is taken again");
        }
        if (encrypt) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            try (java.io.OutputStream enc = Age.encrypting(out, encryption.recipients())) {
                enc.write(bytes);
            }
            bytes = out.toByteArray();
        }
        String key = key(target, e.tier(), globals.getFileName().toString()) + (encrypt ? Age.SUFFIX : "");
        s3.putSmall(key, bytes, settings.lock(), retainUntil);
        log.info("offsite {}: {} uploaded{}", target, key, encrypt ? " encrypted" : "");
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return java.security.MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (java.security.NoSuchAlgorithmException ex) {
            throw new IllegalStateException(ex);
        }
    }

    /**
     * Encrypts {@code file} into {@code out}: the plaintext's sha256 must still be the manifest's
     * (a file damaged since its verification is never copied).
     */
    Age.Encrypted encrypt(Path file, Path out, Manifest m) throws IOException {
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

    /** The checksum the manifest already gives: its sha256, when that is what the store is sent. */
    static Optional<String> fromManifest(Checksum algorithm, Manifest m) {
        return algorithm == Checksum.SHA256
                ? Optional.of(java.util.Base64.getEncoder().encodeToString(HexFormat.of().parseHex(m.sha256())))
                : Optional.empty();
    }

    /** A copy already in the store of the same backup (a promotion's original), which the store can copy. */
    static Optional<Copy> inStore(Ledger.State state, Manifest m, boolean encrypted) {
        return state.copies().values().stream()
                .filter(c -> c.plainSha256().equals(m.sha256()) && c.encrypted() == encrypted && c.size() <= MAX_COPY)
                .findFirst();
    }

    /** A file whose sha256 is no longer its manifest's is never copied. */
    static void checkPlaintext(Path file, Manifest m) {
        if (!io.backstop.files.Hashing.sha256(file).equals(m.sha256())) {
            throw damaged(file);
        }
    }

    private static BackstopException damaged(Path file) {
        return new BackstopException(ExitCode.BAD_BACKUP, file + " no longer matches the sha256 in its manifest;"
                + " it is not copied offsite (backstop list shows it DAMAGED after the next scan)");
    }

    static <T> T await(java.util.concurrent.Future<T> work, String what) throws IOException {
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

}
