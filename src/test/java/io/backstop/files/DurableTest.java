package io.backstop.files;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DurableTest {
    @Test
    void aTreeIsSentToDiskSeveralFilesAtATimeAndItsSizeCounted(@TempDir Path dir) throws Exception {
        Path root = dir.resolve("tree");
        long expected = 0;
        for (int i = 0; i < 40; i++) {
            Path f = root.resolve("d" + (i % 4)).resolve("sub" + (i % 3)).resolve("f" + i);
            Files.createDirectories(f.getParent());
            Files.write(f, new byte[i * 1000]);
            expected += i * 1000L;
        }
        Files.createSymbolicLink(root.resolve("link"), root.resolve("d0")); // not followed, not counted twice
        Map<Path, Long> asked = new ConcurrentHashMap<>();
        long total = Durable.fsyncTree(root, (p, size) -> {
            asked.put(root.relativize(p), size);
            return !p.getFileName().toString().equals("f5"); // a file already on disk is skipped
        }, 4);
        assertThat(total).isEqualTo(expected);
        assertThat(asked).hasSize(40).containsEntry(Path.of("d1", "sub2", "f5"), 5000L)
                .containsEntry(Path.of("d3", "sub0", "f39"), 39_000L);
    }

    @Test
    void aFileThatCannotBeSentToDiskIsNamed(@TempDir Path dir) throws Exception {
        Path root = dir.resolve("tree");
        Files.createDirectories(root.resolve("a"));
        Files.write(root.resolve("a").resolve("kept"), new byte[10]);
        Path gone = Files.write(root.resolve("a").resolve("gone"), new byte[10]);
        // removed between the walk and its fsync: the fsync fails, and says which file
        assertThatThrownBy(() -> Durable.fsyncTree(root, (p, size) -> {
            if (p.equals(gone)) {
                assertThat(p.toFile().delete()).isTrue();
            }
            return true;
        }, 2)).isInstanceOf(NoSuchFileException.class).hasMessageContaining(gone.toString());
    }
}
