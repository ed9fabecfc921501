package io.backstop.pitr;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;

/** Where a WAL segment's bytes are: recorded in the archive, or still in pg_receivewal's {@code .incoming}. */
public final class Segments {
    private Segments() {
    }

    /**
     * Segment {@code s} as recorded in the archive, else as pg_receivewal left it: complete and not yet
     * recorded (the daemon records every 2 s), or still being written (.partial); else recorded since the
     * archive's ledger was read.
     */
    public static Optional<Path> segmentFile(WalArchive archive, long s, long segmentSize) throws IOException {
        for (WalArchive.Entry e : archive.entries()) {
            if (Wal.isSegment(e.name()) && Wal.segno(e.name(), segmentSize) == s) {
                return Optional.of(archive.dir().resolve(e.name()));
            }
        }
        if (Files.isDirectory(archive.incoming())) {
            try (Stream<Path> files = Files.list(archive.incoming())) {
                for (Path f : files.toList()) {
                    String n = f.getFileName().toString();
                    if ((Wal.isPartial(n) || Wal.isSegment(n)) && Wal.segno(n.substring(0, 24), segmentSize) == s) {
                        return Optional.of(f);
                    }
                }
            }
        }
        // Recorded by the daemon since this archive's ledger was read (moved out of .incoming meanwhile).
        if (Files.isDirectory(archive.dir())) {
            try (Stream<Path> files = Files.list(archive.dir())) {
                return files.filter(f -> Wal.isSegment(f.getFileName().toString())
                        && Wal.segno(f.getFileName().toString(), segmentSize) == s).findFirst();
            }
        }
        return Optional.empty();
    }

    /** A segment file's name without .partial. */
    public static String name(Path segment) {
        return segment.getFileName().toString().substring(0, 24);
    }

    /** The newest segment number held, recorded or still being received. */
    static Optional<Long> newest(WalArchive archive, long segmentSize) throws IOException {
        Optional<Long> newest = archive.entries().stream().filter(WalArchive.Entry::isSegment)
                .map(e -> Wal.segno(e.name(), segmentSize)).max(Long::compare);
        if (Files.isDirectory(archive.incoming())) {
            try (Stream<Path> files = Files.list(archive.incoming())) {
                for (Path f : files.toList()) {
                    String n = f.getFileName().toString();
                    if (Wal.isPartial(n) || Wal.isSegment(n)) {
                        long s = Wal.segno(n.substring(0, 24), segmentSize);
                        newest = Optional.of(newest.map(x -> Math.max(x, s)).orElse(s));
                    }
                }
            }
        }
        return newest;
    }
}
