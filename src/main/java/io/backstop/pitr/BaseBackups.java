package io.backstop.pitr;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.backstop.Background;
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
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One target's base backups, {@code <target>/base/<stamp>/} with {@code <stamp>.json} beside it: a
 * plain-format {@code pg_basebackup} with the WAL it needs streamed into it ({@code -X stream}, so each
 * stands on its own) and its {@code backup_manifest}, written into a temporary directory and counted
 * only after it matched its manifest: every file's CRC32C, taken as the copy was written
 * ({@link CopyFollower}), and {@code pg_verifybackup} for the rest. A recovery can start from one at any point after
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
            // The record's writer is made while the copy runs (a cold JVM takes 30-40 ms to build it).
            CompletableFuture<ObjectWriter> recordWriter = Background.supply("base-backup-record",
                    () -> json.writerFor(Base.class));
            ProcessRunner.Result r;
            Map<Path, CopyFollower.Followed> followed;
            CompletableFuture<JsonNode> manifest;
            CompletableFuture<ProcessRunner.Result> structure;
            // Each file is checksummed and sent to disk as it is written (--no-sync alone would leave the
            // writing to the end, and a check afterwards would read it all again).
            try (CopyFollower follower = CopyFollower.start(tmp)) {
                r = runner.run(spec, p -> { });
                if (r.exitCode() != 0) {
                    throw runner.failure(spec, r, ExitCode.DUMP_FAILED);
                }
                // What reads only the finished copy starts now, beside the follower's last pass over it (the
                // files written last, fsynced as they are read): the manifest, and pg_verifybackup's structure
                // half (every listed file there and no other, the manifest's own checksum, the WAL parsed).
                manifest = Background.supply("base-backup-manifest",
                        () -> json.readTree(tmp.resolve("backup_manifest").toFile()));
                structure = Background.supply("base-backup-verify", () -> runner.run(
                        ManifestChecksums.pgVerifybackup(tools, tmp, "--skip-checksums"), p -> { }));
                followed = follower.finish();
            }
            JsonNode checked = Background.joinIo(manifest); // unreadable: fails as reading it here would
            long size = verify(target, tmp, followed, checked, structure);
            String label = Files.readString(tmp.resolve("backup_label"), StandardCharsets.UTF_8);
            Base base = new Base(name, group(START, label), endLsn(tmp, checked),
                    Integer.parseInt(group(TIMELINE, label)), started, clock.instant(), size,
                    Files.readString(tmp.resolve("PG_VERSION"), StandardCharsets.UTF_8).strip(), "pg_verifybackup and every file's CRC32C passed");
            Path finalDir = dir.resolve(name);
            Durable.rename(tmp, finalDir);
            Durable.writeAtomically(dir.resolve(name + ".json"), Background.join(recordWriter).writeValueAsBytes(base));
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

    /**
     * The copy checked against the server's backup_manifest before it counts, while what the follower did
     * not already send to disk is fsynced: pg_verifybackup {@code --skip-checksums} ({@code structure}: every listed file there with its size and no other, the
     * manifest's own checksum, the WAL parsed from start to end) beside every file's CRC32C as the follower
     * read it while it was written ({@link ManifestChecksums}; pg_verifybackup's own checksum pass where the
     * manifest has what that cannot read). Returns the copy's size in bytes.
     */
    private long verify(Target target, Path tmp, Map<Path, CopyFollower.Followed> followed,
            JsonNode manifest, CompletableFuture<ProcessRunner.Result> structure) throws IOException {
        CompletableFuture<Long> synced = Background.supply("base-backup-fsync", () -> fsyncTree(tmp, followed));
        List<String> mismatched = ManifestChecksums.checksums(tools, tmp, manifest, followed);
        ProcessRunner.Result structural = Background.join(structure);
        long size = Background.joinIo(synced);
        if (structural.exitCode() != 0) {
            throw new BackstopException(ExitCode.DUMP_FAILED, "base backup of " + target.name()
                    + " failed pg_verifybackup (not kept): " + structural.stderrTail().strip());
        }
        if (!mismatched.isEmpty()) {
            throw new BackstopException(ExitCode.DUMP_FAILED, "base backup of " + target.name()
                    + " does not match its backup_manifest (not kept): " + String.join("; ", mismatched));
        }
        return size;
    }

    /**
     * Every file and directory under {@code root} to disk (what pg_basebackup's own sync does), but for the
     * files the follower already fsynced whole. Returns the size of all files, in bytes.
     */
    private static long fsyncTree(Path root, Map<Path, CopyFollower.Followed> followed) throws IOException {
        long total = Durable.fsyncTree(root, (p, size) -> {
            CopyFollower.Followed seen = followed.get(root.relativize(p));
            return seen == null || seen.synced() != size;
        }, CopyFollower.FSYNCS);
        Durable.fsyncDirectory(root.getParent());
        return total;
    }

    private static String group(Pattern p, String text) {
        Matcher m = p.matcher(text);
        if (!m.find()) {
            throw new BackstopException(ExitCode.DUMP_FAILED, "backup_label has no " + p.pattern() + ": " + text);
        }
        return m.group(1);
    }

    /** The end of the last WAL range the backup_manifest names: where a recovery from it becomes consistent. */
    private static String endLsn(Path backup, JsonNode manifest) {
        JsonNode ranges = manifest.path("WAL-Ranges");
        if (!ranges.isArray() || ranges.isEmpty()) {
            throw new BackstopException(ExitCode.DUMP_FAILED, backup.resolve("backup_manifest") + " names no WAL range");
        }
        return ranges.get(ranges.size() - 1).path("End-LSN").asText();
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
