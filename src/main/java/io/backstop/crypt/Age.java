package io.backstop.crypt;

import com.exceptionfactory.jagged.RecipientStanzaReader;
import com.exceptionfactory.jagged.RecipientStanzaWriter;
import com.exceptionfactory.jagged.framework.stream.StandardDecryptingChannelFactory;
import com.exceptionfactory.jagged.framework.stream.StandardEncryptingChannelFactory;
import com.exceptionfactory.jagged.x25519.X25519RecipientStanzaReaderFactory;
import com.exceptionfactory.jagged.x25519.X25519RecipientStanzaWriterFactory;
import io.backstop.Background;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.files.Crc32c;
import io.backstop.files.Durable;
import io.backstop.files.Hashing;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.DigestOutputStream;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.zip.CRC32C;
import java.util.zip.CheckedOutputStream;

/**
 * The age format (age-encryption.org/v1) with X25519 recipients: written by the age command where
 * it is installed, else through the Jagged library, which also reads it. The files written decrypt
 * with {@code age -d -i KEY}, and files {@code age -r age1...} wrote decrypt here. Backstop holds only public keys (recipients); an identity (the private key) is
 * read from a file at the moment a copy is restored, and never logged or kept.
 */
public final class Age {
    /** The name ending of an encrypted copy. */
    public static final String SUFFIX = ".age";

    private Age() {
    }

    /** Bytes written to {@code out} are encrypted to every recipient; closing it ends the file. */
    public static OutputStream encrypting(OutputStream out, List<String> recipients) throws IOException {
        List<RecipientStanzaWriter> writers = new ArrayList<>();
        try {
            for (String r : recipients) {
                writers.add(X25519RecipientStanzaWriterFactory.newRecipientStanzaWriter(r));
            }
            return Channels.newOutputStream(new StandardEncryptingChannelFactory()
                    .newEncryptingChannel(Channels.newChannel(out), writers));
        } catch (GeneralSecurityException e) {
            throw new IOException("age encryption could not start: " + e.getMessage(), e);
        }
    }

    /**
     * What {@link #encryptFile} wrote: the hex sha256 of the encrypted file (when it was asked for) and
     * of the plaintext it read, and the encrypted file's CRC32C (base64, as a store is sent it).
     */
    public record Encrypted(Optional<String> sha256, String plainSha256, String crc32c) {
    }

    /** The age command, when installed: {@link #encryptFile} prefers it. */
    static final Path AGE = Path.of("/usr/bin/age");

    /**
     * Encrypts {@code plain} to {@code recipients} into {@code out} (created private; the caller fsyncs it
     * when it is kept) and returns the plaintext's sha256 and the encrypted file's CRC32C, and its sha256
     * too when {@code sha256} asks for it. With the age command where it is installed: its native
     * ChaCha20-Poly1305 encrypts some 2 GB/s here, the JDK 17 cipher 0.48 GB/s (0.28 under the daemon's
     * C1 compiler); it reads the file and writes {@code out} itself while the plaintext is hashed beside
     * it, and the encrypted file is summed from the page cache afterwards, so that no byte passes
     * through a pipe. In process (Jagged) otherwise. Both write the same standard format.
     */
    public static Encrypted encryptFile(Path plain, Path out, List<String> recipients, boolean sha256)
            throws IOException {
        return encryptFile(plain, out, recipients, sha256, Files.isExecutable(AGE) ? Optional.of(AGE)
                : Optional.empty());
    }

    static Encrypted encryptFile(Path plain, Path out, List<String> recipients, boolean sha256,
            Optional<Path> command) throws IOException {
        if (command.isEmpty()) {
            return inProcess(plain, out, recipients, sha256);
        }
        List<String> argv = new ArrayList<>(List.of(command.get().toString()));
        for (String r : recipients) {
            argv.add("-r");
            argv.add(r); // public keys only: nothing secret reaches argv
        }
        argv.add("--");
        argv.add(plain.toAbsolutePath().toString());
        CompletableFuture<String> plainSha256 = Background.supply("age-plaintext-sha256", () -> Hashing.sha256(plain));
        // Appended to the file just created, never truncated: ext4 writes a file truncated on open back to the
        // disk as soon as it is closed (its guard for files replaced in place), and an upload's copy is removed
        // once it is up; unlinking the written-back copy cost 0.3 s here, its writeback 269 MB of disk writes.
        Process age = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(Durable.createPrivate(out).toFile())).start();
        try {
            CompletableFuture<String> stderr = Background.supply("age-stderr", () -> {
                try (InputStream err = age.getErrorStream()) {
                    return new String(err.readAllBytes(), StandardCharsets.UTF_8).strip();
                } catch (IOException e) {
                    return "";
                }
            });
            int exit = age.waitFor(); // interruptible: a sync that stops takes its encryption ahead with it
            if (exit != 0) {
                String errors = stderr.join();
                throw new IOException(command.get() + " exited with " + exit + (errors.isEmpty() ? "" : ": " + errors));
            }
            // Both read the file age just wrote, still in the page cache: OpenSSL's sha256 beside the CRC32C.
            CompletableFuture<String> written = sha256 ? Background.supply("age-ciphertext-sha256", () -> Hashing.sha256(out))
                    : null;
            String crc32c = Crc32c.of(out);
            return new Encrypted(Optional.ofNullable(written).map(CompletableFuture::join), plainSha256.join(), crc32c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while encrypting " + plain);
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        } finally {
            age.destroyForcibly();
        }
    }


    /** Jagged, in this JVM: where the age command is not installed. */
    private static Encrypted inProcess(Path plain, Path out, List<String> recipients, boolean sha256)
            throws IOException {
        try {
            MessageDigest plainDigest = MessageDigest.getInstance("SHA-256");
            MessageDigest digest = sha256 ? MessageDigest.getInstance("SHA-256") : null;
            CRC32C crc = new CRC32C();
            try (InputStream in = new DigestInputStream(new BufferedInputStream(Files.newInputStream(plain), 1 << 16),
                    plainDigest);
                    OutputStream file = new BufferedOutputStream(Files.newOutputStream(Durable.createPrivate(out),
                            java.nio.file.StandardOpenOption.WRITE), 1 << 16); // not truncated: see above
                    OutputStream raw = new CheckedOutputStream(digest == null ? file : new DigestOutputStream(file,
                            digest), crc);
                    OutputStream age = encrypting(raw, recipients)) {
                in.transferTo(age);
            }
            return new Encrypted(Optional.ofNullable(digest).map(d -> HexFormat.of().formatHex(d.digest())),
                    HexFormat.of().formatHex(plainDigest.digest()), Crc32c.base64(crc));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The plaintext of an age file read from {@code in}, with the identities in {@code identityFile}
     * (age-keygen's format: comments and AGE-SECRET-KEY-1... lines). A wrong key, a damaged or
     * truncated file fail with an error naming the file, never the key.
     */
    public static InputStream decrypting(InputStream in, Path identityFile, String what) {
        List<RecipientStanzaReader> readers = new ArrayList<>();
        for (String key : identities(identityFile)) {
            try {
                readers.add(X25519RecipientStanzaReaderFactory.newRecipientStanzaReader(key));
            } catch (GeneralSecurityException | RuntimeException e) {
                throw new BackstopException(ExitCode.USAGE, "identity file " + identityFile
                        + " holds a line that is not an age X25519 identity; allowed: age-keygen's output"
                        + " (AGE-SECRET-KEY-1... lines and # comments)");
            }
        }
        try {
            return Channels.newInputStream(new StandardDecryptingChannelFactory()
                    .newDecryptingChannel(Channels.newChannel(in), readers));
        } catch (GeneralSecurityException | IOException e) {
            throw new BackstopException(ExitCode.BAD_BACKUP, what + " cannot be decrypted with the identity in "
                    + identityFile + " (" + e.getClass().getSimpleName() + "): it was encrypted to another key, or"
                    + " it is damaged or not an age file");
        }
    }

    private static List<String> identities(Path identityFile) {
        List<String> keys = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(identityFile, StandardCharsets.UTF_8)) {
                String l = line.strip();
                if (!l.isEmpty() && !l.startsWith("#")) {
                    keys.add(l);
                }
            }
        } catch (IOException | RuntimeException e) {
            throw new BackstopException(ExitCode.USAGE, "cannot read the age identity file " + identityFile + " ("
                    + e.getClass().getSimpleName() + "); allowed: a readable file written by age-keygen");
        }
        if (keys.isEmpty()) {
            throw new BackstopException(ExitCode.USAGE, "the age identity file " + identityFile
                    + " holds no identity; allowed: a file written by age-keygen (an AGE-SECRET-KEY-1... line)");
        }
        return keys;
    }
}
