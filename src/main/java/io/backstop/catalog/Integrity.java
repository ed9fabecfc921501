package io.backstop.catalog;

import io.backstop.catalog.Manifest;
import io.backstop.files.Hashing;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Whether a dump is still the file its manifest describes. Cheap, on every listing: its size and
 * modification time against the manifest's. Thorough, when a file is about to be trusted as the
 * survivor that allows retention to delete another, and on a schedule: its sha256. A sha256
 * result is remembered for the file's identity, size and time, so a daemon hashes each file once
 * until it changes (or the scheduled scan re-reads it for bit rot).
 */
public final class Integrity {
    private record Seen(Object fileKey, long size, long modifiedNanos) {
    }

    private final Map<Seen, String> hashed = new ConcurrentHashMap<>();

    /** Why {@code file} no longer matches {@code m}, or empty when it does (cheap checks, cached hashes). */
    public Optional<String> damage(Path file, Manifest m) {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            return Optional.of("cannot be read (" + e.getMessage() + ")");
        }
        if (a.size() != m.sizeBytes()) {
            return Optional.of(a.size() + " bytes, the manifest says " + m.sizeBytes()
                    + " (truncated or replaced after it was verified)");
        }
        Seen seen = seen(a);
        String known = hashed.get(seen);
        if (known != null) {
            return known.equals(m.sha256()) ? Optional.empty() : Optional.of(shaMismatch());
        }
        boolean timeChanged = m.fileModifiedAt() != null
                && !m.fileModifiedAt().equals(a.lastModifiedTime().toInstant());
        return timeChanged ? hashDamage(file, m, seen) : Optional.empty();
    }

    /** The sha256 check: for survivors retention relies on, and the scheduled scan ({@code reread}: ignore the cache). */
    public Optional<String> thorough(Path file, Manifest m, boolean reread) {
        Optional<String> cheap = damage(file, m);
        if (cheap.isPresent()) {
            return cheap;
        }
        try {
            Seen seen = seen(Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS));
            if (!reread && hashed.containsKey(seen)) {
                return hashed.get(seen).equals(m.sha256()) ? Optional.empty() : Optional.of(shaMismatch());
            }
            return hashDamage(file, m, seen);
        } catch (IOException e) {
            return Optional.of("cannot be read (" + e.getMessage() + ")");
        }
    }

    private Optional<String> hashDamage(Path file, Manifest m, Seen seen) {
        String actual = Hashing.sha256(file);
        hashed.put(seen, actual);
        return actual.equals(m.sha256()) ? Optional.empty() : Optional.of(shaMismatch());
    }

    private static String shaMismatch() {
        return "its sha256 differs from the manifest's (changed or corrupted after it was verified)";
    }

    private static Seen seen(BasicFileAttributes a) {
        return new Seen(a.fileKey(), a.size(), a.lastModifiedTime().to(java.util.concurrent.TimeUnit.NANOSECONDS));
    }
}
