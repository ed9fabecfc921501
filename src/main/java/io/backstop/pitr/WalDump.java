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
import java.util.OptionalLong;
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
        return commits(bin, dir, start, 0);
    }

    /** The first {@code limit} commits (0: all) from segment file {@code start} in {@code dir} on. */
    static List<Commit> commits(Path bin, Path dir, String start, int limit) throws IOException {
        List<Commit> commits = new ArrayList<>();
        List<String> command = new ArrayList<>(List.of(bin.resolve("pg_waldump").toString(), "-p", dir.toString(),
                start, "--rmgr=Transaction"));
        if (limit > 0) {
            command.add("--limit=" + limit); // counts the records shown: pg_waldump stops reading there
        }
        ProcessRunner.Spec spec = ProcessRunner.Spec.of(command, Map.of("TZ", "UTC"), Duration.ofMinutes(30))
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
     * The segment a replay to {@code t} needs last, where a commit it stops at is found. Commit times follow
     * the WAL's order (but for microseconds between concurrent commits): a binary search over segments {@code
     * from} to {@code newest} for the first whose first commit is at or after {@code t} (after it, {@code
     * inclusive}): the commit the replay stops at lies in it or the one before; plus one, as a record may
     * cross into the next segment. Each probe reads a segment only up to its first commit: a point early in a
     * long archive neither reads nor copies the WAL after it. Empty where no segment's first commit stops the
     * replay: a commit after the newest segment's first may still (the caller reads that segment whole).
     */
    static OptionalLong segmentThrough(Path bin, WalArchive archive, long from, long newest, long segmentSize, Instant t,
            boolean inclusive) throws IOException {
        java.util.Map<Long, Optional<Instant>> firsts = new java.util.HashMap<>();
        long lo = from;
        long hi = newest + 1; // newest + 1: no commit at or after t in the archive
        // Where the search most likely ends: the first segment last written at or after t (on this host's
        // clock). It and its neighbours are read at once; where they bracket the answer, no other is read.
        OptionalLong hint = firstWrittenFrom(archive, from, newest, segmentSize, t);
        if (hint.isPresent()) {
            List<Long> near = java.util.stream.LongStream.rangeClosed(Math.max(from, hint.getAsLong() - 1),
                    Math.min(newest, hint.getAsLong() + 1)).boxed().toList();
            readFirsts(bin, archive, near, segmentSize, firsts);
            for (long s : near) {
                if (stopsBy(bin, archive, s, newest, segmentSize, t, inclusive, firsts)) {
                    hi = s;
                    break;
                }
                lo = s + 1;
            }
        }
        while (lo < hi) {
            long mid = (lo + hi) >>> 1;
            if (stopsBy(bin, archive, mid, newest, segmentSize, t, inclusive, firsts)) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        // The stopping commit lies before the first commit from lo on, in its segment or an earlier one.
        long at = lo > newest ? newest + 1 : firstSegmentWithCommit(bin, archive, lo, newest, segmentSize, firsts);
        return at > newest ? OptionalLong.empty() : OptionalLong.of(Math.min(at + 1, newest));
    }

    /**
     * Whether the replay to {@code t} stops before the first commit from segment {@code s} on, the one it must
     * read (a segment without a commit defers to the next; none at all: as late as can be): at {@code t} or
     * after it, only after it when {@code inclusive}.
     */
    private static boolean stopsBy(Path bin, WalArchive archive, long s, long newest, long segmentSize, Instant t,
            boolean inclusive, java.util.Map<Long, Optional<Instant>> firsts) throws IOException {
        long at = firstSegmentWithCommit(bin, archive, s, newest, segmentSize, firsts);
        Optional<Instant> first = at > newest ? Optional.empty() : firsts.get(at);
        return first.isEmpty() || (inclusive ? first.get().isAfter(t) : !first.get().isBefore(t));
    }

    /** The first segment of {@code from} to {@code newest} the archive recorded as last written at or after {@code t}. */
    private static OptionalLong firstWrittenFrom(WalArchive archive, long from, long newest, long segmentSize,
            Instant t) throws IOException {
        OptionalLong first = OptionalLong.empty();
        for (WalArchive.Entry e : archive.entries()) {
            if (Wal.isSegment(e.name()) && e.modifiedMillis() >= t.toEpochMilli()) {
                long s = Wal.segno(e.name(), segmentSize);
                if (s >= from && s <= newest && (first.isEmpty() || s < first.getAsLong())) {
                    first = OptionalLong.of(s);
                }
            }
        }
        return first;
    }

    /** The first commit of each of {@code segments}, read side by side (each a pg_waldump of its own). */
    private static void readFirsts(Path bin, WalArchive archive, List<Long> segments, long segmentSize,
            java.util.Map<Long, Optional<Instant>> firsts) throws IOException {
        List<java.util.concurrent.CompletableFuture<Optional<Instant>>> reads = new ArrayList<>();
        for (long s : segments) {
            reads.add(io.backstop.Background.supply("pg_waldump-" + s, () -> firstIn(bin, archive, s, segmentSize)));
        }
        for (int i = 0; i < segments.size(); i++) {
            firsts.put(segments.get(i), io.backstop.Background.joinIo(reads.get(i)));
        }
    }

    /** The first segment from {@code s} on holding a commit ({@code newest + 1}: none does); each read once. */
    private static long firstSegmentWithCommit(Path bin, WalArchive archive, long s, long newest, long segmentSize,
            java.util.Map<Long, Optional<Instant>> firsts) throws IOException {
        for (long x = s; x <= newest; x++) {
            Optional<Instant> first = firsts.get(x);
            if (first == null) {
                first = firstIn(bin, archive, x, segmentSize);
                firsts.put(x, first);
            }
            if (first.isPresent()) {
                return x;
            }
        }
        return newest + 1;
    }

    /** The first commit in segment {@code s}, read no further than it. */
    private static Optional<Instant> firstIn(Path bin, WalArchive archive, long s, long segmentSize)
            throws IOException {
        return commitsIn(bin, archive, s, segmentSize, 1).stream().map(Commit::time).findFirst();
    }

    /** The newest commit in segment {@code s} alone. */
    private static Optional<Instant> newestIn(Path bin, WalArchive archive, long s, long segmentSize)
            throws IOException {
        return commitsIn(bin, archive, s, segmentSize, 0).stream().map(Commit::time).max(Instant::compareTo);
    }

    /** The first {@code limit} commits (0: all) of segment {@code s} alone, recorded or still arriving. */
    private static List<Commit> commitsIn(Path bin, WalArchive archive, long s, long segmentSize, int limit)
            throws IOException {
        Optional<Path> file = Segments.segmentFile(archive, s, segmentSize);
        if (file.isEmpty()) {
            return List.of();
        }
        Path view = Files.createTempDirectory("backstop-waldump-");
        try {
            Path link = view.resolve(Segments.name(file.get()));
            Files.createSymbolicLink(link, file.get().toAbsolutePath());
            return commits(bin, view, link.getFileName().toString(), limit);
        } finally {
            io.backstop.files.Sweep.deleteTree(view);
        }
    }
}
