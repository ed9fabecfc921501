package io.backstop.backup;

import com.github.luben.zstd.ZstdInputStream;
import io.backstop.pg.ProcessRunner;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How pg_restore reads a backup file: a plain custom-format archive ({@code .dump}) by its path;
 * a zstd-compressed one ({@code .dump.zst}, written by Backstop for pg_dump clients older than 16)
 * on its stdin, decompressed as it is read, exactly what {@code zstd -dc FILE | pg_restore ...}
 * does by hand. Every pg_restore of a backup goes through here.
 */
public final class Archive {
    private Archive() {
    }

    /** {@code command} (pg_restore and its options, no archive) reading {@code archive}. */
    public static ProcessRunner.Spec pgRestore(List<String> command, Path archive, Map<String, String> env,
            Duration timeout) {
        List<String> full = new ArrayList<>(command);
        if (!BackupLayout.isZstd(archive)) {
            full.add(archive.toString());
            return ProcessRunner.Spec.of(full, env, timeout);
        }
        return ProcessRunner.Spec.of(full, env, timeout).withStdin(out -> {
            try (InputStream in = decompressed(archive)) {
                in.transferTo(out);
            } catch (IOException e) {
                // pg_restore stopped reading (it had what it needed, or it failed): its exit code tells
            }
        });
    }

    /** The archive's bytes as pg_restore reads them. */
    public static InputStream decompressed(Path archive) throws IOException {
        InputStream file = Files.newInputStream(archive);
        return BackupLayout.isZstd(archive) ? new ZstdInputStream(file) : file;
    }

    /** The standard command that restores this file without Backstop, for messages and the manifest. */
    public static String restoreCommand(Path archive) {
        return BackupLayout.isZstd(archive) ? "zstd -dc < " + archive.getFileName() + " | pg_restore -d DB"
                : "pg_restore -d DB " + archive.getFileName();
    }
}
