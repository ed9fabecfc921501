package io.backstop.pitr;

import com.fasterxml.jackson.databind.JsonNode;
import io.backstop.Background;
import io.backstop.files.FileBytes;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.CRC32C;

/**
 * The checksum half of pg_verifybackup: each file a {@code backup_manifest} lists has its size and CRC32C
 * compared with the manifest's, the CRC32C as {@link CopyFollower} read the file while it was written, or
 * read back now (on every core, the largest files first) for a file it did not see whole. The rest of the
 * verification (every listed file present and no other, the
 * manifest's own checksum, the WAL parsed from start to end) stays with {@code pg_verifybackup
 * --skip-checksums}.
 */
final class ManifestChecksums {
    private static final int MAX_NAMED = 10;

    private record Listed(String path, long size, String checksum) {
    }

    private ManifestChecksums() {
    }

    /**
     * Whether this manifest can be checked here: CRC32C on every file and every path plain text (an
     * {@code Encoded-Path}, for a name that is not UTF-8, or another algorithm is left to pg_verifybackup).
     */
    static boolean supported(JsonNode manifest) {
        JsonNode files = manifest.path("Files");
        if (!files.isArray()) {
            return false;
        }
        for (JsonNode f : files) {
            if (!f.path("Path").isTextual() || !"CRC32C".equals(f.path("Checksum-Algorithm").asText())) {
                return false;
            }
        }
        return true;
    }

    /**
     * pg_verifybackup on {@code backup} with {@code options} ({@code --skip-checksums} for its structure half,
     * {@code --no-parse-wal} for its checksum half), as a spec to run.
     */
    static ProcessRunner.Spec pgVerifybackup(PgTools tools, Path backup, String... options) {
        List<String> command = new ArrayList<>(List.of(tools.tool("pg_verifybackup").toString(), "--quiet"));
        command.addAll(List.of(options));
        command.add(backup.toString());
        return ProcessRunner.Spec.of(command, Map.of(), Duration.ofDays(1));
    }

    /**
     * Every file's size and checksum against {@code manifest}: here where it can be ({@link #supported}, with
     * what the follower read), by pg_verifybackup's own checksum pass otherwise. What does not match, one line
     * per file; empty when all does.
     */
    static List<String> checksums(PgTools tools, Path backup, JsonNode manifest,
            Map<Path, CopyFollower.Followed> followed) throws IOException {
        if (supported(manifest)) {
            return mismatches(backup, manifest, followed);
        }
        ProcessRunner.Result r = new ProcessRunner().run(pgVerifybackup(tools, backup, "--no-parse-wal"), p -> { });
        return r.exitCode() == 0 ? List.of() : List.of(r.stderrTail().strip());
    }

    /** What does not match, one line per file (at most ten named, then how many more); empty when all do. */
    static List<String> mismatches(Path backup, JsonNode manifest, Map<Path, CopyFollower.Followed> followed)
            throws IOException {
        List<Listed> files = new ArrayList<>();
        for (JsonNode f : manifest.path("Files")) {
            files.add(new Listed(f.path("Path").asText(), f.path("Size").asLong(), f.path("Checksum").asText()));
        }
        files.sort(Comparator.comparingLong(Listed::size).reversed());
        // A file the follower saw whole costs a stat: those are checked here, one after the other (a task
        // each on a pool cost more than the stat); only the files to be read back go to the pool.
        List<String> problems = new ArrayList<>();
        List<Listed> unseen = new ArrayList<>();
        for (Listed f : files) {
            CopyFollower.Followed seen = followed.get(Path.of(f.path()));
            if (seen != null && seen.bytes() == f.size()) {
                check(backup, f, seen).ifPresent(problems::add);
            } else {
                unseen.add(f);
            }
        }
        int threads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
        ExecutorService pool = unseen.isEmpty() ? null
                : Executors.newFixedThreadPool(threads, Background.threads("base-backup-checksums"));
        try {
            List<Future<Optional<String>>> checks = new ArrayList<>();
            for (Listed f : unseen) {
                checks.add(pool.submit(() -> check(backup, f, null)));
            }
            for (Future<Optional<String>> c : checks) {
                get(c).ifPresent(problems::add);
            }
            if (problems.size() > MAX_NAMED) {
                int more = problems.size() - MAX_NAMED;
                problems = new ArrayList<>(problems.subList(0, MAX_NAMED));
                problems.add("and " + more + " more");
            }
            return problems;
        } finally {
            if (pool != null) {
                pool.shutdownNow();
            }
        }
    }

    private static Optional<String> get(Future<Optional<String>> check) throws IOException {
        try {
            return check.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while checking the base backup's files", e);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /** One file against its manifest entry; {@code seen}: what the follower read of it, or null. */
    private static Optional<String> check(Path backup, Listed f, CopyFollower.Followed seen) throws IOException {
        Path file = backup.resolve(f.path());
        long size;
        try {
            size = Files.size(file);
        } catch (NoSuchFileException e) {
            return Optional.of(f.path() + " is missing");
        }
        if (size != f.size()) {
            return Optional.of(f.path() + " has " + size + " bytes, the manifest says " + f.size());
        }
        long value;
        if (seen != null && seen.bytes() == size) {
            value = seen.crc(); // read as it was written
        } else {
            CRC32C crc = new CRC32C();
            FileBytes.read(file, crc::update);
            value = crc.getValue();
        }
        String actual = hex(value, ByteOrder.LITTLE_ENDIAN);
        if (!actual.equalsIgnoreCase(f.checksum()) && !hex(value, ByteOrder.BIG_ENDIAN).equalsIgnoreCase(f.checksum())) {
            return Optional.of(f.path() + " has CRC32C " + actual + ", the manifest says " + f.checksum());
        }
        return Optional.empty();
    }

    /**
     * As PostgreSQL writes a CRC32C into a manifest: the value's four bytes as they lie in the server's
     * memory, in hex; the server's byte order is not known here, so either order is taken.
     */
    static String hex(long crc32c, ByteOrder order) {
        return HexFormat.of().formatHex(ByteBuffer.allocate(4).order(order).putInt((int) crc32c).array());
    }
}
