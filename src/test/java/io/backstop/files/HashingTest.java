package io.backstop.files;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.files.DigestingOutputStream;
import io.backstop.files.Hashing;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HashingTest {
    @Test
    void coreutilsAndTheJdkAgreeAndMatchAKnownDigest(@TempDir Path dir) throws Exception {
        Path empty = Files.write(dir.resolve("empty"), new byte[0]);
        assertThat(Hashing.sha256(empty)).isEqualTo("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        byte[] data = new byte[3 * 1024 * 1024 + 17];
        new Random(11).nextBytes(data);
        Path file = Files.write(dir.resolve("data"), data);
        assertThat(Hashing.sha256(file)).isEqualTo(Hashing.javaSha256(file)).hasSize(64);
    }

    @Test
    void manyFilesAtOnceEachGetTheirOwnDigestAcrossBatchesAndProcesses(@TempDir Path dir) throws Exception {
        java.util.List<Path> files = new java.util.ArrayList<>();
        Random random = new Random(13);
        for (int i = 0; i < 300; i++) { // more than one command line takes
            byte[] data = new byte[i == 7 ? 2 * 1024 * 1024 : random.nextInt(5000)];
            random.nextBytes(data);
            files.add(Files.write(dir.resolve(i == 3 ? "with space and * star " + i : "f" + i), data));
        }
        java.util.Map<Path, String> each = Hashing.sha256Each(files, 2);
        assertThat(each).hasSize(files.size());
        for (Path f : files) {
            assertThat(each.get(f)).as(f.toString()).isEqualTo(Hashing.javaSha256(f));
        }
        // relative paths are keys as given, too
        Path relative = Path.of("").toAbsolutePath().relativize(files.get(7));
        assertThat(Hashing.sha256Each(java.util.List.of(relative), 1)).containsEntry(relative, Hashing.javaSha256(files.get(7)));
    }

    @Test
    void aFileThatCannotBeReadAmongManyIsNamed(@TempDir Path dir) throws Exception {
        Path there = Files.writeString(dir.resolve("there"), "x");
        Path gone = dir.resolve("gone");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Hashing.sha256Each(java.util.List.of(there, gone), 2))
                .hasMessageContaining(gone.toString());
    }

    @Test
    void aFileHashedAsItIsWrittenHasTheDigestOfItsBytes(@TempDir Path dir) throws Exception {
        byte[] data = new byte[5 * 1024 * 1024 + 3];
        new Random(12).nextBytes(data);
        Path file = dir.resolve("written");
        DigestingOutputStream out = new DigestingOutputStream(Files.newOutputStream(file));
        try (out) {
            for (int i = 0; i < data.length; i += 70_000) {
                out.write(data, i, Math.min(70_000, data.length - i));
            }
            out.write(42);
        }
        assertThat(Files.size(file)).isEqualTo(data.length + 1L);
        assertThat(out.sha256()).contains(Hashing.javaSha256(file));
    }

    @Test
    void aFailingFileWriteIsReportedAndNoDigestIsClaimed(@TempDir Path dir) {
        java.io.OutputStream full = new java.io.OutputStream() {
            @Override
            public void write(int b) throws java.io.IOException {
                throw new java.io.IOException("No space left on device");
            }
        };
        DigestingOutputStream out = new DigestingOutputStream(full);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> {
            try (out) {
                out.write(new byte[10], 0, 10);
            }
        }).hasMessageContaining("No space left");
        assertThat(out.sha256()).isEmpty();
    }
}
