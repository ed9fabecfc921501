package io.backstop.backup;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Sha256Test {
    @Test
    void coreutilsAndTheJdkAgreeAndMatchAKnownDigest(@TempDir Path dir) throws Exception {
        Path empty = Files.write(dir.resolve("empty"), new byte[0]);
        assertThat(Verifier.sha256(empty)).isEqualTo("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        byte[] data = new byte[3 * 1024 * 1024 + 17];
        new Random(11).nextBytes(data);
        Path file = Files.write(dir.resolve("data"), data);
        assertThat(Verifier.sha256(file)).isEqualTo(Verifier.javaSha256(file)).hasSize(64);
    }
}
