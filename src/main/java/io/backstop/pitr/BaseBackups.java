package io.backstop.pitr;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.config.Settings.Target;
import io.backstop.files.Durable;
import io.backstop.files.ProcessOwner;
import io.backstop.files.Sweep;
import io.backstop.pg.Database;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One target's base backups, {@code <target>/base/<stamp>/} with {@code <stamp>.json} beside it: a
 * plain-format {@code pg_basebackup} with the WAL it needs streamed into it ({@code -X stream}, so each
 * stands on its own) and its {@code backup_manifest}, written into a temporary directory and counted
 * only after {@code pg_verifybackup} passed on it. A recovery can start from one at any point after
 * its end position.
 */
public final class BaseBackups {
    private static final Logger log = LoggerFactory.getLogger(BaseBackups.class);
    public static final String DIR = "base";
    private static final String PARTIAL = ".partial";
    private static final Pattern START = Pattern.compile("(?m)^START WAL LOCATION: ([0-9A-F]+/[0-9A-F]+)");
    private static final Pattern TIMELINE = Pattern.compile("(?m)^START TIMELINE: (\\d+)");

    private final Path dir;
    private final PgTools tools;
    private final ObjectMapper json;
    private final Clock clock;

    /** A verified base backup: recovery from it may end anywhere after {@code endLsn}. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Base(String name, String startLsn, String endLsn, int timeline, Instant startedAt,
            Instant finishedAt, long sizeBytes, String serverVersion, String verification) {
        public long start() {
            return Wal.parseLsn(startLsn);
        }

        public long end() {
            return Wal.parseLsn(endLsn);
        }
    }

    public BaseBackups(Path targetDir, PgTools tools, ObjectMapper json, Clock clock) {
        this.dir = targetDir.resolve(DIR);
        this.tools = tools;
        this.json = json;
        this.clock = clock;
    }

    public Path dir() {
        return dir;
    }

    public Path dataDir(Base base) {
        return dir.resolve(base.name());
    }

    /** The verified base backups, oldest first. */
    public List<Base> list() {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<Base> bases = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".json")).toList()) {
                try {
                    Base b = json.readValue(f.toFile(), Base.class);
                    if (Files.isDirectory(dataDir(b))) {
                        bases.add(b);
                    }
                } catch (IOException e) {
                    log.warn("base backup record {} cannot be read ({}); that base backup does not count", f,
                            e.getMessage());
                }
            }
        } catch (IOException e) {
            throw Durable.storageError("cannot list base backups in " + dir, e);
        }
        bases.sort(Comparator.comparingLong(Base::start));
        return bases;
    }

    /**
     * Takes a base backup of {@code target}: pg_basebackup into a temporary directory, pg_verifybackup on
     * it, then renamed into place and recorded. A failure leaves nothing behind.
     */
    public Base take(Target target) {
        Instant started = clock.instant();
        String name = BackupLayout.stamp(started);
        Path tmp = dir.resolve("." + name + "." + ProcessOwner.current() + PARTIAL);
        Database db = new Database(target);
        ProcessRunner runner = new ProcessRunner();
        try (Database.PasswordFile passfile = db.passwordFile()) {
            Files.createDirectories(dir);
            Map<String, String> env = db.libpqEnvironment(passfile, target.database());
            ProcessRunner.Spec spec = ProcessRunner.Spec.of(List.of(tools.tool("pg_basebackup").toString(),
                    "-D", tmp.toString(), "-Fp", "-X", "stream", "-c", "fast", "--manifest-checksums=CRC32C",
                    "--no-sync", "-l", "backstop " + target.name() + " " + name, "-w"), env, Duration.ofDays(2));
            ProcessRunner.Result r = runner.run(spec, p -> { });
            if (r.exitCode() != 0) {
                throw runner.failure(spec, r, ExitCode.DUMP_FAILED);
            }
            // pg_verifybackup reads what was written (from the page cache, CPU-bound) while the files go to
            // disk (I/O-bound): the verification costs about what pg_basebackup's own fsync would have.
            java.util.concurrent.CompletableFuture<Void> synced = io.backstop.Background.supply(
                    "base-backup-fsync", () -> {
                        fsyncTree(tmp);
                        return null;
                    });
            // pg_verifybackup's two halves at once, on two cores: every file against its manifest checksum
            // (--no-parse-wal), and the manifest's structure with the WAL parsed from start to end
            // (--skip-checksums). Together they are the whole check, in the time of the longer.
            java.util.concurrent.CompletableFuture<ProcessRunner.Result> walParsed = io.backstop.Background.supply(
                    "base-backup-verify-wal", () -> runner.run(verify(tmp, "--skip-checksums"), p -> { }));
            ProcessRunner.Result checksums = runner.run(verify(tmp, "--no-parse-wal"), p -> { });
            ProcessRunner.Result wal = io.backstop.Background.join(walParsed);
            io.backstop.Background.join(synced);
            for (ProcessRunner.Result v : List.of(checksums, wal)) {
                if (v.exitCode() != 0) {
                    throw new BackstopException(ExitCode.DUMP_FAILED, "base backup of " + target.name()
                            + " failed pg_verifybackup (not kept): " + v.stderrTail().strip());
                }
            }
            String label = Files.readString(tmp.resolve("backup_label"), StandardCharsets.UTF_8);
            Base base = new Base(name, group(START, label), endLsn(tmp.resolve("backup_manifest")),
                    Integer.parseInt(group(TIMELINE, label)), started, clock.instant(), size(tmp),
                    Files.readString(tmp.resolve("PG_VERSION"), StandardCharsets.UTF_8).strip(), "pg_verifybackup passed");
            Path finalDir = dir.resolve(name);
            Durable.rename(tmp, finalDir);
            Durable.writeAtomically(dir.resolve(name + ".json"), json.writeValueAsBytes(base));
            log.info("base backup {} of {}: {} in {}, WAL {} to {}, verified", name, target.name(),
                    io.backstop.files.Sizes.bytes(base.sizeBytes()),
                    io.backstop.files.Sizes.seconds(Duration.between(started, base.finishedAt())), base.startLsn(),
                    base.endLsn());
            return base;
        } catch (IOException e) {
            throw Durable.storageError("base backup of " + target.name() + " in " + dir, e);
        } finally {
            deleteQuietly(tmp);
        }
    }

    private ProcessRunner.Spec verify(Path backup, String half) {
        return ProcessRunner.Spec.of(List.of(tools.tool("pg_verifybackup").toString(), "--quiet", half,
                backup.toString()), Map.of(), Duration.ofDays(1));
    }

    /** Every file and directory under {@code root} to disk (what pg_basebackup's own sync does). */
    private static void fsyncTree(Path root) throws IOException {
        List<Path> dirs = new ArrayList<>();
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.toList()) {
                if (Files.isDirectory(p)) {
                    dirs.add(p);
                } else if (Files.isRegularFile(p)) {
                    Durable.fsync(p);
                }
            }
        }
        for (Path d : dirs) {
            Durable.fsyncDirectory(d);
        }
        Durable.fsyncDirectory(root.getParent());
    }

    private static String group(Pattern p, String text) {
        Matcher m = p.matcher(text);
        if (!m.find()) {
            throw new BackstopException(ExitCode.DUMP_FAILED, "backup_label has no " + p.pattern() + ": " + text);
        }
        return m.group(1);
    }

    /** The end of the last WAL range the backup_manifest names: where a recovery from it becomes consistent. */
    private String endLsn(Path manifest) throws IOException {
        JsonNode ranges = json.readTree(manifest.toFile()).path("WAL-Ranges");
        if (!ranges.isArray() || ranges.isEmpty()) {
            throw new BackstopException(ExitCode.DUMP_FAILED, manifest + " names no WAL range");
        }
        return ranges.get(ranges.size() - 1).path("End-LSN").asText();
    }

    private static long size(Path root) throws IOException {
        try (Stream<Path> all = Files.walk(root)) {
            return all.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        }
    }

    /** Sets every base backup aside as {@code base-<suffix>} (a cluster that is gone), leaving none. */
    public Path setAside(String suffix) throws IOException {
        Path aside = dir.resolveSibling(DIR + "-" + suffix);
        if (Files.exists(dir)) {
            Durable.rename(dir, aside);
        }
        return aside;
    }

    /** Keeps the newest {@code keep}; returns those removed. */
    public List<Base> prune(int keep) {
        List<Base> bases = list();
        List<Base> gone = new ArrayList<>(bases.subList(0, Math.max(0, bases.size() - keep)));
        for (Base b : gone) {
            try {
                Files.deleteIfExists(dir.resolve(b.name() + ".json")); // the record first: a half-deleted one never counts
                Sweep.deleteTree(dataDir(b));
                log.info("base backup {} removed (base-backup.keep)", b.name());
            } catch (IOException e) {
                log.warn("base backup {} could not be removed: {}", b.name(), e.getMessage());
            }
        }
        return gone;
    }

    /** Removes temporary directories of base backups whose process is gone, and directories no record names. */
    public List<Path> sweep() {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        return Sweep.run(dir, ".*" + PARTIAL, d -> {
            String n = d.getFileName().toString();
            String owner = n.substring(n.indexOf('.', 1) + 1, n.length() - PARTIAL.length());
            return ProcessOwner.alive(owner) ? null : "an unfinished base backup whose process is gone";
        });
    }

    private static void deleteQuietly(Path d) {
        try {
            if (Files.exists(d)) {
                Sweep.deleteTree(d);
            }
        } catch (IOException ignored) {
            // swept at the next start
        }
    }
}
