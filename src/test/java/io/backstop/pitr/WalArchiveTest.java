package io.backstop.pitr;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The archive's bookkeeping on real files: what counts, what a hole is, what pruning keeps; and WAL names. */
class WalArchiveTest {
    private static final long SEG = 1L << 20; // 1 MiB segments keep the files small

    @TempDir
    Path dir;

    private Path incoming(WalArchive a, String name, int fill) throws IOException {
        Files.createDirectories(a.incoming());
        Path f = a.incoming().resolve(name);
        byte[] bytes = new byte[(int) SEG];
        java.util.Arrays.fill(bytes, (byte) fill);
        Files.write(f, bytes);
        return f;
    }

    private static String seg(long segno) {
        return Wal.segmentName(1, segno, SEG);
    }

    @Test
    void positionsAndNamesReadAsPostgresWritesThem() {
        assertThat(Wal.parseLsn("16/B374D848")).isEqualTo(0x16B374D848L);
        assertThat(Wal.lsn(0x16B374D848L)).isEqualTo("16/B374D848");
        assertThat(Wal.segno("000000010000000100000002", 16L << 20)).isEqualTo(256 + 2);
        assertThat(Wal.segmentName(2, 258, 16L << 20)).isEqualTo("000000020000000100000002");
        assertThat(Wal.segnoOf(Wal.parseLsn("1/2000028"), 16L << 20)).isEqualTo(258);
        assertThat(Wal.isSegment("000000010000000100000002.partial")).isFalse();
        assertThat(Wal.isPartial("000000010000000100000002.partial")).isTrue();
        assertThat(Wal.isPartial("x.partial")).as("a stray short name is no segment").isFalse();
    }

    @Test
    void completedSegmentsCountOnceRecordedAndThePartialAndNewestStayWhereStreamingResumes() throws IOException {
        WalArchive a = new WalArchive(dir);
        incoming(a, seg(1), 1);
        incoming(a, seg(2), 2);
        incoming(a, seg(3) + ".partial", 3);
        Files.writeString(a.incoming().resolve("x.partial"), "not ours"); // left alone, and no reason to stop
        assertThat(a.collect()).extracting(WalArchive.Entry::name).containsExactly(seg(1), seg(2));
        assertThat(a.collect()).as("nothing new the second time").isEmpty();
        assertThat(Files.exists(a.dir().resolve(seg(1)))).isTrue();
        assertThat(Files.exists(a.incoming().resolve(seg(1)))).as("archived, and not the newest").isFalse();
        assertThat(Files.exists(a.incoming().resolve(seg(3) + ".partial"))).isTrue();
        // The ledger survives a new instance (a restarted daemon).
        assertThat(new WalArchive(dir).entries()).extracting(WalArchive.Entry::name).containsExactly(seg(1), seg(2));
    }

    @Test
    void aMissingOrChangedSegmentIsAHoleAndATouchedOneIsNot() throws IOException {
        WalArchive a = new WalArchive(dir);
        for (long s = 1; s <= 6; s++) {
            incoming(a, seg(s), (int) s);
        }
        a.collect();
        assertThat(a.continuity(1, SEG).intact()).isTrue();
        Files.delete(a.dir().resolve(seg(3)));
        try (RandomAccessFile f = new RandomAccessFile(a.dir().resolve(seg(5)).toFile(), "rw")) {
            f.seek(100);
            f.write(new byte[] {42});
        }
        Files.setLastModifiedTime(a.dir().resolve(seg(2)), java.nio.file.attribute.FileTime.from(Instant.now().plusSeconds(60)));
        WalArchive.Continuity c = new WalArchive(dir).continuity(1, SEG);
        assertThat(c.holes()).extracting(WalArchive.Hole::from, WalArchive.Hole::to)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(3L, 3L), org.assertj.core.groups.Tuple.tuple(5L, 5L));
        assertThat(c.holes().get(0).reason()).contains("deleted");
        assertThat(c.holes().get(1).reason()).contains("checksum");
        assertThat(new WalArchive(dir).verify(1, Long.MAX_VALUE, SEG)).containsExactly(seg(3), seg(5));
        assertThat(new WalArchive(dir).verify(1, 4, SEG)).as("only the range asked for").containsExactly(seg(3));
        assertThat(new WalArchive(dir).continuity(4, SEG).holes()).as("from 4 on only 5 is bad").hasSize(1);
    }

    @Test
    void anotherProcesssRecordsAndPrunesAreReadAsTheyHappen() throws IOException {
        // Two nodes of a fleet on one backup directory: one streams and records, the other reads the archive.
        WalArchive streamer = new WalArchive(dir);
        WalArchive other = new WalArchive(dir);
        incoming(streamer, seg(1), 1);
        incoming(streamer, seg(2), 2);
        streamer.collect();
        assertThat(other.entries()).extracting(WalArchive.Entry::name).containsExactly(seg(1), seg(2));
        incoming(streamer, seg(3), 3);
        incoming(streamer, seg(4), 4);
        streamer.collect();
        streamer.prune(2, SEG); // the ledger rewritten: a new file, shorter than the one the other node read
        assertThat(other.continuity(2, SEG).intact()).as("what the streaming node recorded after the other read it")
                .isTrue();
        assertThat(other.entries()).extracting(WalArchive.Entry::name).containsExactly(seg(2), seg(3), seg(4));
        // The other node takes over: what it records goes on from what the first one left.
        incoming(other, seg(5), 5);
        other.collect();
        assertThat(other.continuity(2, SEG).lastSegno()).isEqualTo(5);
        assertThat(streamer.entries()).extracting(WalArchive.Entry::name).containsExactly(seg(2), seg(3), seg(4),
                seg(5));
    }

    @Test
    void aRunNeverReceivedIsOneHoleAndPruningKeepsHistoryFiles() throws IOException {
        WalArchive a = new WalArchive(dir);
        for (long s : List.of(1L, 2L, 7L, 8L)) {
            incoming(a, seg(s), (int) s);
        }
        incoming(a, "00000002.history", 9);
        a.collect();
        assertThat(a.continuity(1, SEG).holes()).singleElement()
                .satisfies(h -> assertThat(List.of(h.from(), h.to(), h.reason())).containsExactly(3L, 6L,
                        "missing: never received"));
        assertThat(a.prune(7, SEG)).isEqualTo(2);
        assertThat(new WalArchive(dir).entries()).extracting(WalArchive.Entry::name)
                .containsExactlyInAnyOrder("00000002.history", seg(7), seg(8));
        assertThat(Files.exists(a.dir().resolve(seg(1)))).isFalse();
        assertThat(a.continuity(7, SEG).intact()).isTrue();
    }

    @Test
    void aSegmentReceivedAgainWithOtherBytesReplacesTheRecordedOne() throws IOException {
        WalArchive a = new WalArchive(dir);
        incoming(a, seg(1), 1);
        incoming(a, seg(2), 2);
        a.collect();
        String before = a.entry(seg(2)).orElseThrow().sha256();
        Files.delete(a.incoming().resolve(seg(2)));
        incoming(a, seg(2), 7); // the newest, streamed again after a restart, differently
        assertThat(a.collect()).extracting(WalArchive.Entry::name).containsExactly(seg(2));
        assertThat(new WalArchive(dir).entry(seg(2)).orElseThrow().sha256()).isNotEqualTo(before);
        assertThat(new WalArchive(dir).continuity(1, SEG).intact()).isTrue();
    }
}
