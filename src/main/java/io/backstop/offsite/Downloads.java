package io.backstop.offsite;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Manifests;
import io.backstop.crypt.Age;
import io.backstop.files.Durable;
import io.backstop.files.Sweep;
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
import java.util.HexFormat;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies brought back from the store into {@code <target>/offsite/}: checked as they arrive, decrypted when
 * encrypted, with their manifest beside them, so that restore and verify read them as local backups.
 */
final class Downloads {
    private static final Logger log = LoggerFactory.getLogger(Downloads.class);

    private final BackupLayout layout;
    private final Manifests manifests;
    private final Supplier<ObjectStore> store;

    Downloads(BackupLayout layout, Manifests manifests, Supplier<ObjectStore> store) {
        this.layout = layout;
        this.manifests = manifests;
        this.store = store;
    }

    /**
     * Downloads a copy into {@code <target>/offsite/} (checking the object's sha256 as it arrives, or
     * for a copy encrypted on its way up with a CRC32C, the store's),
     * decrypts it with {@code identity} when it is encrypted, and writes its manifest beside it:
     * the result is a local backup file that restore checks against the manifest's sha256. It stays
     * there after the restore, for the operator (the next fetch of the same copy downloads it again).
     */
    Path fetch(String target, Remote copy, Optional<Path> identity) {
        return download(copy, identity, downloads(target));
    }

    /**
     * A copy fetched for a drill: downloaded as {@link #fetch} does, into a directory of its own under
     * {@code <target>/offsite/}, locked while the drill reads it and removed when it is closed, so that a
     * drill leaves no copy behind (a decrypted one least of all). A drill killed half-way leaves the
     * directory unlocked, and the next fetch removes it.
     */
    Fetched fetchForDrill(String target, Remote copy, Optional<Path> identity) {
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

    private static final String DRILL_PREFIX = ".drill-";
    private static final String DRILL_LOCK = ".lock";

    /** Removes a drill's download directory; its lock (when held) is released last, so no sweep races it. */
    static void removeDrillDir(Path dir, FileChannel lock) {
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

    /**
     * The globals file that went up with the copy, beside the downloaded backup (decrypted as the backup is),
     * so that {@code restore --with-roles} of an offsite copy finds it. Missing offsite: said, not fatal.
     */
    private static void fetchGlobals(ObjectStore s3, Remote copy, boolean decrypt, Optional<Path> identity, Path file)
            throws IOException {
        io.backstop.catalog.Manifest.Globals g = copy.manifest().globals();
        if (g == null || !g.taken()) {
            return;
        }
        String key = BackupLayout.globalsOf(Path.of(copy.key())).toString();
        Path local = BackupLayout.globalsOf(file);
        if (s3.head(key).isEmpty()) {
            log.warn("offsite: {} has no globals beside it ({} is missing); restore --with-roles of it cannot create"
                    + " roles", copy.key(), key);
            return;
        }
        Path tmp = Durable.temporarySibling(local);
        try (InputStream raw = s3.get(key);
                InputStream in = decrypt ? Age.decrypting(raw, identity.get(), key) : raw;
                OutputStream out = Files.newOutputStream(Durable.createPrivate(tmp))) {
            in.transferTo(out);
        }
        Durable.rename(tmp, local);
    }

    private Path download(Remote copy, Optional<Path> identity, Path dir) {
        // Encrypted locally too (encryption.local): kept as it is, as its manifest describes it; restore decrypts.
        boolean decrypt = copy.encrypted() && !copy.name().endsWith(Age.SUFFIX);
        if (copy.encrypted() && identity.isEmpty()) {
            throw new BackstopException(ExitCode.USAGE, copy.key() + " is encrypted; give the age identity that"
                    + " decrypts it: --identity FILE or BACKSTOP_AGE_IDENTITY_FILE");
        }
        ObjectStore s3 = store.get();
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
            fetchGlobals(s3, copy, decrypt, identity, file);
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
        Sweep.run(dir, "*", f -> {
            if (f.getFileName().toString().startsWith(DRILL_PREFIX) && Files.isDirectory(f)) {
                return "a drill's download, left by an interrupted offsite drill";
            }
            return BackupLayout.isTemporary(f) && Files.isRegularFile(f)
                    ? "a download left by an interrupted offsite fetch" : null;
        }, Downloads::removeUnlocked);
    }

    /** Removes a download, or a drill's directory, that no running process holds locked. */
    private static boolean removeUnlocked(Path f) throws IOException {
        boolean drill = Files.isDirectory(f);
        try (FileChannel channel = FileChannel.open(drill ? f.resolve(DRILL_LOCK) : f, StandardOpenOption.WRITE);
                FileLock free = channel.tryLock()) {
            if (free == null) {
                return false;
            }
            if (drill) {
                removeDrillDir(f, null);
            } else {
                Files.deleteIfExists(f);
            }
            return true;
        } catch (java.nio.channels.OverlappingFileLockException e) {
            return false; // in use by this process
        } catch (NoSuchFileException e) {
            return false; // gone already, or a drill's directory before its lock is made (empty: left be)
        }
    }

}
