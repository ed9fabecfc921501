package io.backstop.pitr;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.Background;
import io.backstop.testing.Fixtures;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The follower against a writer appending in small pieces, as pg_basebackup does, and one that starts over. */
class CopyFollowerTest {
    private static final java.time.Duration WAIT = java.time.Duration.ofSeconds(60);
    @TempDir
    Path dir;

    private static long crc(Path f) throws Exception {
        CRC32C c = new CRC32C();
        c.update(Files.readAllBytes(f));
        return c.getValue();
    }

    @Test
    void everyFileIsReadWholeAsItIsWrittenAndAFileWrittenAgainIsReadAgain() throws Exception {
        Path root = dir.resolve("copy");
        Map<Path, CopyFollower.Followed> followed;
        try (CopyFollower follower = CopyFollower.start(root)) {
            CompletableFuture<Void> writer = Background.supply("test-writer", () -> {
                Random random = new Random(42);
                for (int i = 0; i < 12; i++) {
                    Path f = root.resolve("d" + (i % 3)).resolve("f" + i);
                    Files.createDirectories(f.getParent());
                    try (OutputStream out = Files.newOutputStream(f)) {
                        for (int piece = 0; piece < 40; piece++) {
                            byte[] bytes = new byte[1 + random.nextInt(70_000)];
                            random.nextBytes(bytes);
                            out.write(bytes);
                            out.flush();
                            if (piece == 20) {
                                // the follower reads the file half written, and the writer goes on after
                                long half = Files.size(f);
                                Fixtures.await("f" + i + " read half written", WAIT,
                                        () -> follower.read(root.relativize(f)) == half);
                            }
                        }
                    }
                }
                // A file written again, shorter, after the follower read the longer one whole.
                Path first = root.resolve("d0").resolve("f0");
                long whole = Files.size(first);
                Fixtures.await("f0 read whole", WAIT, () -> follower.read(root.relativize(first)) == whole);
                Files.write(first, new byte[] {1, 2, 3});
                return null;
            });
            Background.join(writer);
            followed = follower.finish();
        }
        assertThat(followed).hasSize(12);
        for (Map.Entry<Path, CopyFollower.Followed> e : followed.entrySet()) {
            Path f = root.resolve(e.getKey());
            assertThat(e.getValue().bytes()).as(e.getKey().toString()).isEqualTo(Files.size(f));
            assertThat(e.getValue().crc()).as(e.getKey().toString()).isEqualTo(crc(f));
            // sent to disk after its last byte was read (several files at a time), so no second fsync is due
            assertThat(e.getValue().synced()).as(e.getKey() + " synced").isEqualTo(Files.size(f));
        }
        assertThat(followed.get(Path.of("d0", "f0")).bytes()).isEqualTo(3);
    }

    @Test
    void aDirectoryThatNeverAppearsFollowsNothing() {
        try (CopyFollower follower = CopyFollower.start(dir.resolve("never"))) {
            assertThat(follower.finish()).isEmpty();
        }
    }
}
