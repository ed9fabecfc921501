package io.backstop.backup;

import io.backstop.catalog.Manifest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/** One finished, verified backup. */
public record BackupResult(Path file, Manifest manifest, long bytes, Duration duration, Map<String, Long> rowCounts,
        Duration dumpTime, Duration verifyTime) {
    public BackupResult {
        rowCounts = Map.copyOf(rowCounts);
    }
}
