package io.backstop.crypt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.backstop.offsite.Checksum;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both ways {@link Age#encryptFile} writes a copy, the age command (Debian's {@code age}, which
 * ./test installs) and Jagged in process, write files that Debian's age and Backstop decrypt with
 * either of two recipients' identities, and report the sha256 of what they wrote and read.
 */
class AgeTest {
    @TempDir
    Path dir;
    Path plain;
    Path key1;
    Path key2;
    List<String> recipients;

    @BeforeEach
    void keysAndAPlaintext() throws Exception {
        plain = dir.resolve("-backup.dump"); // a name that looks like an option
        byte[] bytes = new byte[3 * 1024 * 1024 + 12345]; // several 64 KiB chunks and a partial one
        new Random(7).nextBytes(bytes);
        Files.write(plain, bytes);
        key1 = keygen("one.key");
        key2 = keygen("two.key");
        recipients = List.of(publicKey(key1), publicKey(key2));
    }

    @Test
    void theAgeCommandWritesAFileBothReadersDecryptWithEitherIdentity() throws Exception {
        assertThat(Age.AGE).as("Debian's age package (./test installs it)").isExecutable();
        assertWritesAReadableCopy(Optional.of(Age.AGE), dir.resolve("native.age"));
    }

    @Test
    void withoutTheAgeCommandJaggedWritesTheSameFormat() throws Exception {
        assertWritesAReadableCopy(Optional.empty(), dir.resolve("jagged.age"));
    }

    @Test
    void anEmptyFileEncryptsBothWays() throws Exception {
        Path empty = Files.createFile(dir.resolve("empty.dump"));
        for (Optional<Path> command : List.of(Optional.of(Age.AGE), Optional.<Path>empty())) {
            Path out = dir.resolve("empty-" + command.isPresent() + ".age");
            Age.Encrypted e = Age.encryptFile(empty, out, recipients, true, command);
            assertThat(e.plainSha256()).isEqualTo(sha256(empty));
            assertThat(e.sha256()).contains(sha256(out));
            assertThat(e.crc32c()).isEqualTo(Checksum.CRC32C.of(out, 0, Files.size(out)));
            assertThat(ageDecrypt(out, key1)).isEmpty();
        }
    }

    @Test
    void aRecipientTheAgeCommandRefusesFailsWithItsMessage() {
        Path out = dir.resolve("refused.age");
        assertThatThrownBy(() -> Age.encryptFile(plain, out, List.of("age1notakey"), false, Optional.of(Age.AGE)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("exited with")
                .hasMessageContaining("age1notakey");
    }

    @Test
    void anInterruptStopsTheAgeCommandAtOnce() throws Exception {
        // A plaintext that never ends (a FIFO no one writes): only the interrupt can end the encryption.
        Path fifo = dir.resolve("endless.dump");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertThat(mkfifo.waitFor()).isZero();
        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        Thread encrypting = new Thread(() -> {
            try {
                Age.encryptFile(fifo, dir.resolve("endless.age"), recipients, false, Optional.of(Age.AGE));
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        encrypting.start();
        try {
            io.backstop.testing.Fixtures.await("age started", java.time.Duration.ofSeconds(60), () -> ageChildren() > 0);
            encrypting.interrupt();
            encrypting.join(TimeUnit.SECONDS.toMillis(30));
            assertThat(encrypting.isAlive()).as("the encryption ended with its interrupt").isFalse();
            assertThat(failure.get()).isInstanceOf(java.io.InterruptedIOException.class)
                    .hasMessageContaining(fifo.toString());
            io.backstop.testing.Fixtures.await("age killed", java.time.Duration.ofSeconds(60), () -> ageChildren() == 0);
        } finally {
            encrypting.interrupt();
            try (var release = Files.newOutputStream(fifo)) {
                // lets the plaintext's hash, still reading the FIFO, see its end
            }
        }
    }

    private static long ageChildren() {
        return ProcessHandle.current().descendants().filter(p -> p.info().command().map(c -> c.endsWith("/age"))
                .orElse(false) && p.isAlive()).count();
    }

    @Test
    void aMissingPlaintextFailsBothWays() {
        Path missing = dir.resolve("gone.dump");
        assertThatThrownBy(() -> Age.encryptFile(missing, dir.resolve("a.age"), recipients, false, Optional.of(Age.AGE)))
                .isInstanceOf(IOException.class).hasMessageContaining(missing.toString());
        assertThatThrownBy(() -> Age.encryptFile(missing, dir.resolve("b.age"), recipients, false, Optional.empty()))
                .isInstanceOf(IOException.class);
    }

    private void assertWritesAReadableCopy(Optional<Path> command, Path out) throws Exception {
        // Without its own sha256 (an offsite copy sent with its CRC32C), then with it (encryption.local's file).
        Path unhashed = out.resolveSibling("unhashed-" + out.getFileName());
        Age.Encrypted first = Age.encryptFile(plain, unhashed, recipients, false, command);
        assertThat(first.sha256()).isEmpty();
        assertThat(first.plainSha256()).isEqualTo(sha256(plain));
        assertThat(first.crc32c()).isEqualTo(Checksum.CRC32C.of(unhashed, 0, Files.size(unhashed)));
        assertThat(ageDecrypt(unhashed, key1)).isEqualTo(Files.readAllBytes(plain));

        Age.Encrypted e = Age.encryptFile(plain, out, recipients, true, command);
        assertThat(e.plainSha256()).isEqualTo(sha256(plain));
        assertThat(e.sha256()).contains(sha256(out));
        assertThat(Files.readAllBytes(out)).startsWith("age-encryption.org/v1\n".getBytes(StandardCharsets.US_ASCII));
        assertThat(Files.size(out)).isGreaterThan(Files.size(plain));
        assertThat(e.crc32c()).isEqualTo(Checksum.CRC32C.of(out, 0, Files.size(out)));
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(out)))
                .isEqualTo("rw-------");
        byte[] expected = Files.readAllBytes(plain);
        assertThat(ageDecrypt(out, key1)).isEqualTo(expected);
        assertThat(ageDecrypt(out, key2)).isEqualTo(expected);
        try (InputStream in = Age.decrypting(Files.newInputStream(out), key2, out.toString())) {
            assertThat(in.readAllBytes()).isEqualTo(expected);
        }
    }

    private Path keygen(String name) throws Exception {
        Path key = dir.resolve(name);
        Process p = new ProcessBuilder("age-keygen", "-o", key.toString()).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        assertThat(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0).as("age-keygen").isTrue();
        return key;
    }

    private static String publicKey(Path key) throws Exception {
        Process p = new ProcessBuilder("age-keygen", "-y", key.toString()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
        assertThat(p.waitFor()).isZero();
        return out;
    }

    private static byte[] ageDecrypt(Path file, Path identity) throws Exception {
        Process p = new ProcessBuilder("age", "-d", "-i", identity.toString(), file.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor()).as("age -d of " + file).isZero();
        return out;
    }

    private static String sha256(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }
}
