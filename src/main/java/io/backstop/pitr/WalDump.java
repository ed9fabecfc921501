package io.backstop.pitr;

import io.backstop.pg.ProcessRunner;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.temporal.ChronoField;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The commit records of archived WAL, as {@code pg_waldump --rmgr=Transaction} prints them (in UTC). */
final class WalDump {
    private static final Pattern COMMIT = Pattern.compile(
            "tx:\\s+(\\d+), lsn: ([0-9A-F]+/[0-9A-F]+),.*desc: COMMIT (\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?) UTC");
    private static final DateTimeFormatter TIME = new DateTimeFormatterBuilder().appendPattern("yyyy-MM-dd HH:mm:ss")
            .optionalStart().appendFraction(ChronoField.NANO_OF_SECOND, 0, 9, true).optionalEnd().toFormatter();

    /** One commit: its transaction, the LSN of its commit record, and its time. */
    record Commit(long xid, long lsn, Instant time, String line) {
    }

    private WalDump() {
    }

    /** Every commit from segment file {@code start} in {@code dir} on, as far as the WAL there is valid. */
    static List<Commit> commits(Path bin, Path dir, String start) throws IOException {
        List<Commit> commits = new ArrayList<>();
        ProcessRunner.Spec spec = ProcessRunner.Spec.of(List.of(bin.resolve("pg_waldump").toString(), "-p",
                dir.toString(), start, "--rmgr=Transaction"), Map.of("TZ", "UTC"), Duration.ofMinutes(30))
                .withStdout(in -> {
                    try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                        String line;
                        while ((line = r.readLine()) != null) {
                            Matcher m = COMMIT.matcher(line);
                            if (m.find()) {
                                synchronized (commits) {
                                    commits.add(new Commit(Long.parseLong(m.group(1)), Wal.parseLsn(m.group(2)),
                                            LocalDateTime.parse(m.group(3), TIME).toInstant(ZoneOffset.UTC), line));
                                }
                            }
                        }
                    }
                });
        // Its exit is 1 where the valid WAL ends inside the last segment (one still being written): the
        // records before that point count.
        new ProcessRunner().run(spec, p -> { });
        synchronized (commits) {
            return List.copyOf(commits);
        }
    }

    /** The newest commit's time in segments {@code from} to {@code to}, read with pg_waldump from the newest back. */
    static Optional<Instant> newestCommit(Path bin, WalArchive archive, long from, long to, long segmentSize)
            throws IOException {
        for (long s = to; s >= from; s--) {
            Optional<Instant> newest = newestIn(bin, archive, s, segmentSize);
            if (newest.isPresent()) {
                return newest;
            }
        }
        return Optional.empty();
    }

    /**
     * The segment a replay to {@code t} needs last: the one after the first segment holding a commit at or
     * after {@code t} (commit times follow the WAL's order but for microseconds between concurrent
     * commits, and a record may cross into the next segment). A binary search over segments {@code from}
     * to {@code newest}, reading one segment at a time: a point early in a long archive neither reads nor
     * copies the WAL after it.
     */
    static long segmentThrough(Path bin, WalArchive archive, long from, long newest, long segmentSize, Instant t)
            throws IOException {
        java.util.Map<Long, Optional<Instant>> seen = new java.util.HashMap<>();
        long lo = from;
        long hi = newest;
        while (lo < hi) {
            long mid = (lo + hi) >>> 1;
            // the newest commit up to segment mid: its own, else that of the nearest earlier one with commits
            Optional<Instant> upTo = Optional.empty();
            for (long s = mid; s >= lo && upTo.isEmpty(); s--) {
                long segment = s;
                Optional<Instant> in = seen.get(segment);
                if (in == null) {
                    in = newestIn(bin, archive, segment, segmentSize);
                    seen.put(segment, in);
                }
                upTo = in;
            }
            if (upTo.isPresent() && !upTo.get().isBefore(t)) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return Math.min(lo + 1, newest);
    }

    /** The newest commit in segment {@code s} alone. */
    private static Optional<Instant> newestIn(Path bin, WalArchive archive, long s, long segmentSize)
            throws IOException {
        Optional<Path> file = Segments.segmentFile(archive, s, segmentSize);
        if (file.isEmpty()) {
            return Optional.empty();
        }
        Path view = Files.createTempDirectory("backstop-waldump-");
        try {
            Path link = view.resolve(Segments.name(file.get()));
            Files.createSymbolicLink(link, file.get().toAbsolutePath());
            Optional<Instant> newest = Optional.empty();
            for (Commit c : commits(bin, view, link.getFileName().toString())) {
                if (newest.isEmpty() || c.time().isAfter(newest.get())) {
                    newest = Optional.of(c.time());
                }
            }
            return newest;
        } finally {
            io.backstop.files.Sweep.deleteTree(view);
        }
    }
}
