package io.backstop.catalog;

import io.backstop.catalog.Tier;
import io.backstop.files.Durable;
import io.backstop.files.Sweep;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a target's files live and what they are called. A name that does not parse here is
 * not Backstop's, and nothing of Backstop's ever deletes it.
 * <pre>
 * &lt;dir&gt;/&lt;target&gt;/hourly/&lt;target&gt;-20261121T130000Z.dump (+ .dump.json)
 * &lt;dir&gt;/&lt;target&gt;/daily/&lt;target&gt;-20261121.dump
 * &lt;dir&gt;/&lt;target&gt;/manual/&lt;target&gt;-20261121T131502Z-&lt;label&gt;.dump
 * </pre>
 */
public final class BackupLayout {
    public static final String DUMP_SUFFIX = ".dump";
    /** A custom-format archive written uncompressed by pg_dump and compressed as a zstd stream by Backstop. */
    public static final String ZSTD_SUFFIX = ".dump.zst";
    /** Encrypted to the age recipients ({@code encryption.local}): {@code .dump.age} or {@code .dump.zst.age}. */
    public static final String AGE_SUFFIX = io.backstop.crypt.Age.SUFFIX;
    public static final String MANIFEST_SUFFIX = ".json";
    /** The server's roles, memberships, settings and tablespaces taken beside each dump (pg_dumpall --globals-only). */
    public static final String GLOBALS_SUFFIX = "-globals.sql";
    /** Temporary files start with this; only Backstop writes such names, and only under the target's lock. */
    public static final String TEMP_PREFIX = Durable.TEMP_PREFIX;
    public static final Pattern LABEL = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}");

    private static final DateTimeFormatter STAMP =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
    private static final DateTimeFormatter DAY = DateTimeFormatter.BASIC_ISO_DATE;
    private static final Pattern STAMPED = Pattern.compile(
            "(?<target>.+)-(?<stamp>\\d{8}T\\d{6}Z)(?:-(?<label>" + LABEL.pattern() + "))?\\.dump(?:\\.zst)?(?:\\.age)?");
    private static final Pattern DATED = Pattern.compile("(?<target>.+)-(?<day>\\d{8})\\.dump(?:\\.zst)?(?:\\.age)?");

    private final Path root;

    public BackupLayout(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    public Path targetDir(String target) {
        return root.resolve(target);
    }

    public Path tierDir(String target, Tier tier) {
        return targetDir(target).resolve(tier.dir());
    }

    public Path lockFile(String target) {
        return targetDir(target).resolve(".lock");
    }

    /** latest.dump, or latest.dump.zst when the newest is a zstd stream: the name says how to read it. */
    public Path latestLink(String target) {
        return targetDir(target).resolve("latest.dump");
    }

    public Path latestLink(String target, Path pointingAt) {
        return targetDir(target).resolve("latest" + suffix(pointingAt));
    }

    /** .dump or .dump.zst, and .age after either when it is encrypted. */
    public static String suffix(Path dump) {
        return (isZstd(dump) ? ZSTD_SUFFIX : DUMP_SUFFIX) + (isEncrypted(dump) ? AGE_SUFFIX : "");
    }

    /** Encrypted with age (temporaries carry a suffix after .age). */
    public static boolean isEncrypted(Path dump) {
        String name = dump.getFileName().toString();
        return name.endsWith(DUMP_SUFFIX + AGE_SUFFIX) || name.endsWith(ZSTD_SUFFIX + AGE_SUFFIX)
                || name.contains(DUMP_SUFFIX + AGE_SUFFIX + "-") || name.contains(ZSTD_SUFFIX + AGE_SUFFIX + "-");
    }

    /** pg_restore reads it on stdin (decompressed or decrypted as it is read), not by its path. */
    public static boolean isStreamed(Path dump) {
        return isZstd(dump) || isEncrypted(dump);
    }

    public static boolean isZstd(Path dump) {
        return dump.getFileName().toString().contains(ZSTD_SUFFIX); // temporaries carry a suffix after it
    }

    /** A name a dump can have: .dump or .dump.zst, either with .age after it. */
    public static boolean isDumpName(String name) {
        String plain = name.endsWith(AGE_SUFFIX) ? name.substring(0, name.length() - AGE_SUFFIX.length()) : name;
        return plain.endsWith(DUMP_SUFFIX) || plain.endsWith(ZSTD_SUFFIX);
    }

    public Path stateFile(String target) {
        return targetDir(target).resolve("state.json");
    }

    public static String stamp(Instant instant) {
        return STAMP.format(instant);
    }

    public static Instant parseStamp(String stamp) {
        return Instant.from(STAMP.parse(stamp));
    }

    /** hourly/weekly/monthly and manual names carry the UTC start time; daily ones the local date. */
    public Path timestamped(String target, Tier tier, Instant started, Optional<String> label) {
        return timestamped(target, tier, started, label, DUMP_SUFFIX);
    }

    public Path timestamped(String target, Tier tier, Instant started, Optional<String> label, String suffix) {
        String name = target + "-" + stamp(started) + label.map(l -> "-" + l).orElse("") + suffix;
        return tierDir(target, tier).resolve(name);
    }

    public Path dated(String target, Tier tier, LocalDate day) {
        return dated(target, tier, day, DUMP_SUFFIX);
    }

    public Path dated(String target, Tier tier, LocalDate day, String suffix) {
        return tierDir(target, tier).resolve(target + "-" + DAY.format(day) + suffix);
    }

    /** The globals beside a dump: {@code app-20261121T130000Z-globals.sql}, with {@code .age} when the dump is encrypted. */
    public static Path globalsOf(Path dump) {
        String name = dump.getFileName().toString();
        boolean encrypted = name.endsWith(AGE_SUFFIX);
        String base = encrypted ? name.substring(0, name.length() - AGE_SUFFIX.length()) : name;
        base = base.endsWith(ZSTD_SUFFIX) ? base.substring(0, base.length() - ZSTD_SUFFIX.length())
                : base.endsWith(DUMP_SUFFIX) ? base.substring(0, base.length() - DUMP_SUFFIX.length()) : base;
        return dump.resolveSibling(base + GLOBALS_SUFFIX + (encrypted ? AGE_SUFFIX : ""));
    }

    /** A final name nobody has used: two backups within one second get consecutive stamps. */
    public Path freeName(String target, Tier tier, Instant started, Optional<String> label, String suffix) {
        Instant stamp = started.truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        Path candidate = timestamped(target, tier, stamp, label, suffix);
        while (taken(target, tier, stamp, label)) {
            stamp = stamp.plusSeconds(1);
            candidate = timestamped(target, tier, stamp, label, suffix);
        }
        return candidate;
    }

    /** A stamp is taken when a dump of either kind, or its manifest, carries it. */
    private boolean taken(String target, Tier tier, Instant stamp, Optional<String> label) {
        for (String suffix : List.of(BackupLayout.DUMP_SUFFIX, BackupLayout.ZSTD_SUFFIX)) {
            Path p = timestamped(target, tier, stamp, label, suffix);
            if (Files.exists(p) || Files.exists(BackupLayout.manifestOf(p))) {
                return true;
            }
        }
        return false;
    }

    public static Path manifestOf(Path dump) {
        return dump.resolveSibling(dump.getFileName() + ".json");
    }

    public static boolean isTemporary(Path file) {
        return file.getFileName().toString().startsWith(TEMP_PREFIX);
    }

    /** A parsed Backstop file name: the target and, for timestamped names, the instant and label. */
    public record Name(String target, Optional<Instant> stamp, Optional<LocalDate> day, Optional<String> label) {
    }

    /** Parses a dump's file name; empty when it is not a Backstop name for this target. */
    public static Optional<Name> parse(String target, String fileName) {
        Matcher m = STAMPED.matcher(fileName);
        if (m.matches() && m.group("target").equals(target)) {
            try {
                return Optional.of(new Name(target, Optional.of(parseStamp(m.group("stamp"))), Optional.empty(),
                        Optional.ofNullable(m.group("label"))));
            } catch (java.time.DateTimeException e) {
                return Optional.empty();
            }
        }
        Matcher d = DATED.matcher(fileName);
        if (d.matches() && d.group("target").equals(target)) {
            try {
                return Optional.of(new Name(target, Optional.empty(), Optional.of(LocalDate.parse(d.group("day"), DAY)),
                        Optional.empty()));
            } catch (java.time.DateTimeException e) {
                return Optional.empty();
            }
        }
        return Optional.empty();
    }

    /**
     * Removes what an interrupted run left: temporary files whose writer is gone, and manifests
     * whose dump never got its final name. Run under the target's lock (by Backup), so it never
     * races a running backup; a temporary of a live process (state.json, a manifest, a link,
     * written under other locks or none) is left to it.
     */
    public void sweep(String target) {
        Path targetDir = targetDir(target);
        if (!Files.isDirectory(targetDir)) {
            return;
        }
        List<Path> dirs = new ArrayList<>(List.of(targetDir));
        for (Tier tier : Tier.values()) {
            dirs.add(tierDir(target, tier));
        }
        for (Path dir : dirs) {
            Sweep.run(dir, f -> {
                String name = f.getFileName().toString();
                if (isTemporary(f)) {
                    // a live process's state, manifest or link, written under another lock, is left to it
                    return Durable.writerAlive(f) ? null : "a temporary file of an interrupted run";
                }
                if (name.endsWith(GLOBALS_SUFFIX) || name.endsWith(GLOBALS_SUFFIX + AGE_SUFFIX)) {
                    String base = name.substring(0, name.lastIndexOf(GLOBALS_SUFFIX));
                    boolean dumpExists = java.util.stream.Stream.of(DUMP_SUFFIX, ZSTD_SUFFIX).anyMatch(sfx ->
                            Files.exists(f.resolveSibling(base + sfx)) || Files.exists(f.resolveSibling(base + sfx + AGE_SUFFIX)));
                    return dumpExists ? null : "globals whose dump never got its final name (or is gone)";
                }
                if (!name.endsWith(MANIFEST_SUFFIX)) {
                    return null;
                }
                String dump = name.substring(0, name.length() - MANIFEST_SUFFIX.length());
                boolean orphan = isDumpName(dump) && parse(target, dump).isPresent()
                        && !Files.exists(f.resolveSibling(dump));
                return orphan ? "a manifest whose dump never got its final name" : null;
            });
        }
    }
}
