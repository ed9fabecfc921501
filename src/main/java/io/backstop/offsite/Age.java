package io.backstop.offsite;

import com.exceptionfactory.jagged.RecipientStanzaReader;
import com.exceptionfactory.jagged.RecipientStanzaWriter;
import com.exceptionfactory.jagged.framework.stream.StandardDecryptingChannelFactory;
import com.exceptionfactory.jagged.framework.stream.StandardEncryptingChannelFactory;
import com.exceptionfactory.jagged.x25519.X25519RecipientStanzaReaderFactory;
import com.exceptionfactory.jagged.x25519.X25519RecipientStanzaWriterFactory;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.List;

/**
 * The age format (age-encryption.org/v1) with X25519 recipients, through the Jagged library: the
 * files it writes decrypt with {@code age -d -i KEY}, and files {@code age -r age1...} wrote
 * decrypt here. Backstop holds only public keys (recipients); an identity (the private key) is
 * read from a file at the moment a copy is restored, and never logged or kept.
 */
public final class Age {
    /** The name ending of an encrypted copy. */
    public static final String SUFFIX = io.backstop.backup.BackupLayout.AGE_SUFFIX;

    private Age() {
    }

    /** Why {@code recipient} is not an age X25519 public key, or null when it is one. */
    public static String checkRecipient(String recipient) {
        if (recipient.startsWith("AGE-SECRET-KEY-")) {
            // Never echo it: this is a private key put where a public one belongs.
            return "is an age identity (a private key); only public keys (age1...) belong in the configuration:"
                    + " keep the identity away from this host";
        }
        try {
            X25519RecipientStanzaWriterFactory.newRecipientStanzaWriter(recipient);
            return null;
        } catch (GeneralSecurityException | RuntimeException e) {
            return "\"" + recipient + "\" is not an age public key; allowed: the \"age1...\" line age-keygen prints"
                    + " (age-keygen -y KEYFILE shows it)";
        }
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
     * Writes {@code plain} encrypted to {@code recipients} into {@code out} (created, private, fsynced)
     * and returns the sha256 of what was written.
     */
    public static byte[] encryptInto(InputStream plain, Path out, List<String> recipients) throws IOException {
        try {
            java.security.MessageDigest digest = java.security.MessageDigest.getInstance("SHA-256");
            try (OutputStream file = Files.newOutputStream(io.backstop.backup.Durable.createPrivate(out));
                    OutputStream raw = new java.security.DigestOutputStream(
                            new java.io.BufferedOutputStream(file, 1 << 16), digest);
                    OutputStream age = encrypting(raw, recipients)) {
                plain.transferTo(age);
            }
            io.backstop.backup.Durable.fsync(out);
            return digest.digest();
        } catch (java.security.NoSuchAlgorithmException e) {
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
