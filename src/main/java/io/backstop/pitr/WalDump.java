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
        Path view = Files.createTempDirectory("backstop-waldump-");
        try {
            for (long s = to; s >= from; s--) {
                Optional<Path> file = Segments.segmentFile(archive, s, segmentSize);
                if (file.isEmpty()) {
                    continue;
                }
                Path link = view.resolve(Segments.name(file.get()));
                Files.createSymbolicLink(link, file.get().toAbsolutePath());
                Optional<Instant> newest = Optional.empty();
                for (Commit c : commits(bin, view, link.getFileName().toString())) {
                    if (newest.isEmpty() || c.time().isAfter(newest.get())) {
                        newest = Optional.of(c.time());
                    }
                }
                Files.delete(link);
                if (newest.isPresent()) {
                    return newest;
                }
            }
            return Optional.empty();
        } finally {
            io.backstop.files.Sweep.deleteTree(view);
        }
    }
}
