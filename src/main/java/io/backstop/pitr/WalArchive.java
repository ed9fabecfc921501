package io.backstop.pitr;

import io.backstop.files.Durable;
import io.backstop.files.Hashing;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One target's WAL archive, {@code <target>/wal/}. pg_receivewal writes into {@code wal/.incoming/};
 * a file counts only once it is complete, fsynced, hashed and recorded in {@code wal/ledger.tsv}
 * (name, size, sha256, modification time, when recorded), linked into {@code wal/} by
 * {@link #collect}. The newest completed segment (or the one still being written, {@code .partial})
 * stays in {@code .incoming} as well: it is where pg_receivewal resumes after a restart, with any
 * server version. {@link #continuity} checks the archive without a hole from a segment on.
 */
public final class WalArchive {
    private static final Logger log = LoggerFactory.getLogger(WalArchive.class);
    public static final String DIR = "wal";
    static final String INCOMING = ".incoming";
    static final String LEDGER = "ledger.tsv";
    static final String SYSTEM = "system-identifier";

    private final Path dir;
    private final Path incoming;
    private final WalLedger ledger;
    /** What the ledger records, by name: as the file says at each use ({@link WalLedger}). */
    private final Map<String, Entry> entries;

    /** A recorded file: what it was when it counted. */
    public record Entry(String name, long size, String sha256, long modifiedMillis, Instant recordedAt) {
        String line() {
            return name + "\t" + size + "\t" + sha256 + "\t" + modifiedMillis + "\t" + recordedAt.toEpochMilli() + "\n";
        }

        static Entry parse(String line) {
            String[] f = line.split("\t");
            return new Entry(f[0], Long.parseLong(f[1]), f[2], Long.parseLong(f[3]), Instant.ofEpochMilli(Long.parseLong(f[4])));
        }

        boolean isSegment() {
            return Wal.isSegment(name);
        }
    }

    /** A run of segments missing or damaged, {@code from} to {@code to} inclusive. */
    public record Hole(long from, long to, String reason) {
    }

    /** What a continuity check found from a segment on: the holes, and the newest complete segment. */
    public record Continuity(List<Hole> holes, long lastSegno, Optional<Entry> last) {
        public boolean intact() {
            return holes.isEmpty();
        }
    }

    public WalArchive(Path targetDir) {
        this.dir = targetDir.resolve(DIR);
        this.incoming = dir.resolve(INCOMING);
        this.ledger = new WalLedger(dir.resolve(LEDGER));
        this.entries = ledger.entries();
    }

    public Path dir() {
        return dir;
    }

    /** Where pg_receivewal writes. */
    public Path incoming() {
        return incoming;
    }

    /** Every recorded file, by name. */
    public synchronized List<Entry> entries() throws IOException {
        ledger.load();
        return List.copyOf(entries.values());
    }

    public synchronized Optional<Entry> entry(String name) throws IOException {
        ledger.load();
        return Optional.ofNullable(entries.get(name));
    }

    /**
     * Records every file pg_receivewal completed since the last call: fsynced, hashed, appended to the
     * ledger (fsynced), linked into the archive. A segment received again (a restart re-streams the one
     * it stopped in) replaces the recorded one only when its content differs, with a warning. Returns
     * the entries recorded now.
     */
    public synchronized List<Entry> collect() throws IOException {
        ledger.load();
        Files.createDirectories(incoming);
        List<Path> done;
        try (Stream<Path> files = Files.list(incoming)) {
            done = files.filter(f -> {
                String n = f.getFileName().toString();
                return Wal.isSegment(n) || Wal.isHistory(n);
            }).sorted().toList();
        }
        List<Entry> recorded = new ArrayList<>();
        for (Path file : done) {
            String name = file.getFileName().toString();
            Entry known = entries.get(name);
            Path archived = dir.resolve(name);
            if (known != null && Files.isRegularFile(archived) && Files.size(file) == known.size()
                    && Files.getLastModifiedTime(file).toMillis() == known.modifiedMillis()) {
                continue; // the same file, linked already (the newest stays in .incoming)
            }
            Durable.fsync(file);
            String sha256 = Hashing.sha256(file);
            if (known != null && known.sha256().equals(sha256) && Files.isRegularFile(archived)) {
                if (!Files.isSameFile(file, archived)) {
                    Files.delete(file); // received again, the same bytes: the archived copy stays, linked here
                    Files.createLink(file, archived);
                }
                continue;
            }
            if (known != null && Files.isRegularFile(archived)) {
                log.warn("WAL {}: received again with different content; the server's copy replaces the archived one",
                        name);
            }
            Path tmp = Durable.temporarySibling(archived);
            Files.deleteIfExists(tmp);
            Files.createLink(tmp, file);
            Durable.rename(tmp, archived);
            Entry entry = new Entry(name, Files.size(file), sha256, Files.getLastModifiedTime(file).toMillis(),
                    Instant.now());
            ledger.append(entry);
            recorded.add(entry);
        }
        dropOlderIncoming();
        return recorded;
    }

    /** Keeps only the newest segment in .incoming (complete or .partial): pg_receivewal resumes after it. */
    private void dropOlderIncoming() throws IOException {
        List<Path> segments;
        try (Stream<Path> files = Files.list(incoming)) {
            segments = files.filter(f -> {
                String n = f.getFileName().toString();
                return Wal.isSegment(n) || Wal.isPartial(n);
            }).sorted((a, b) -> a.getFileName().toString().substring(0, 24).compareTo(
                    b.getFileName().toString().substring(0, 24))).toList();
        }
        for (int i = 0; i < segments.size() - 1; i++) {
            Path f = segments.get(i);
            String n = f.getFileName().toString();
            if (Wal.isSegment(n) && entries.containsKey(n)) {
                Files.deleteIfExists(f); // archived; a later segment is where streaming resumes
            }
        }
        for (Path h : historyIn(incoming)) {
            if (entries.containsKey(h.getFileName().toString())) {
                Files.deleteIfExists(h);
            }
        }
    }

    private static List<Path> historyIn(Path d) throws IOException {
        try (Stream<Path> files = Files.list(d)) {
            return files.filter(f -> Wal.isHistory(f.getFileName().toString())).toList();
        }
    }

    /**
     * Moves what streaming left in .incoming into the archive after a gap (the server no longer has the
     * WAL after it): a {@code .partial} segment is kept as {@code NAME.partial}, recorded, so that a
     * replay can still reach its end. pg_receivewal then starts where the new slot does.
     */
    public synchronized void retireIncoming() throws IOException {
        collect();
        if (!Files.isDirectory(incoming)) {
            return;
        }
        try (Stream<Path> files = Files.list(incoming)) {
            for (Path f : files.toList()) {
                String n = f.getFileName().toString();
                if (Wal.isPartial(n)) {
                    Durable.fsync(f);
                    Path archived = dir.resolve(n);
                    Durable.rename(f, archived);
                    ledger.append(new Entry(n, Files.size(archived), Hashing.sha256(archived),
                            Files.getLastModifiedTime(archived).toMillis(), Instant.now()));
                } else if (Wal.isSegment(n) || Wal.isHistory(n)) {
                    Files.delete(f); // recorded by collect() above
                }
            }
        }
        Durable.fsyncDirectory(dir);
    }

    /**
     * Checks the archive from segment {@code from} on: every segment number up to the newest present,
     * in some timeline, with the size the ledger recorded; a file whose size or modification time
     * changed since is hashed again and must still match. Missing and damaged segments come back as
     * holes (runs of segment numbers).
     */
    public synchronized Continuity continuity(long from, long segmentSize) throws IOException {
        ledger.load();
        TreeMap<Long, List<Entry>> bySegno = new TreeMap<>();
        for (Entry e : entries.values()) {
            if (e.isSegment()) {
                bySegno.computeIfAbsent(Wal.segno(e.name(), segmentSize), k -> new ArrayList<>()).add(e);
            }
        }
        List<Hole> holes = new ArrayList<>();
        if (bySegno.isEmpty() || bySegno.lastKey() < from) {
            return new Continuity(holes, from - 1, Optional.empty());
        }
        long last = bySegno.lastKey();
        long holeStart = -1;
        String holeReason = null;
        for (long s = from; s <= last; s++) {
            String problem = problem(bySegno.get(s));
            if (problem != null && holeStart < 0) {
                holeStart = s;
                holeReason = problem;
            } else if (problem == null && holeStart >= 0) {
                holes.add(new Hole(holeStart, s - 1, holeReason));
                holeStart = -1;
            }
        }
        if (holeStart >= 0) {
            holes.add(new Hole(holeStart, last, holeReason));
        }
        List<Entry> newest = bySegno.get(last);
        return new Continuity(holes, last, Optional.of(newest.get(newest.size() - 1)));
    }

    /** Why none of a segment's recorded copies can be used; null when one can. */
    private String problem(List<Entry> copies) throws IOException {
        if (copies == null) {
            return "missing: never received";
        }
        String why = null;
        for (Entry e : copies) {
            Path f = dir.resolve(e.name());
            if (!Files.isRegularFile(f)) {
                why = "missing: " + e.name() + " was deleted from " + dir;
                continue;
            }
            if (Files.size(f) == e.size() && Files.getLastModifiedTime(f).toMillis() == e.modifiedMillis()) {
                return null;
            }
            if (Files.size(f) == e.size() && Hashing.sha256(f).equals(e.sha256())) {
                return null; // touched, not changed
            }
            why = "damaged: " + e.name() + " no longer matches its recorded checksum";
        }
        return why;
    }

    /** Hashes every recorded segment from {@code from} on again; the names that no longer match (or are gone). */
    public synchronized List<String> verify(long from, long to, long segmentSize) throws IOException {
        ledger.load();
        List<String> bad = new ArrayList<>();
        for (Entry e : entries.values()) {
            if (e.isSegment() && Wal.segno(e.name(), segmentSize) >= from && Wal.segno(e.name(), segmentSize) <= to) {
                Path f = dir.resolve(e.name());
                if (!Files.isRegularFile(f) || Files.size(f) != e.size() || !Hashing.sha256(f).equals(e.sha256())) {
                    bad.add(e.name());
                }
            }
        }
        return bad;
    }

    /** Removes every segment older than segment {@code before} (history files stay: they are tiny and needed). */
    public synchronized int prune(long before, long segmentSize) throws IOException {
        ledger.load();
        List<String> gone = new ArrayList<>();
        for (Entry e : entries.values()) {
            String base = Wal.isPartial(e.name()) ? e.name().substring(0, 24) : e.name();
            if (Wal.isSegment(base) && Wal.segno(base, segmentSize) < before) {
                gone.add(e.name());
            }
        }
        if (gone.isEmpty()) {
            return 0;
        }
        for (String name : gone) {
            entries.remove(name);
        }
        ledger.rewrite(); // the ledger first: a crash in between leaves unrecorded files, never recorded missing ones
        for (String name : gone) {
            Files.deleteIfExists(dir.resolve(name));
        }
        return gone.size();
    }

    /** When WAL last arrived: the newest modification among what streaming writes and what was recorded. */
    public synchronized java.util.Optional<Instant> lastWritten() throws IOException {
        ledger.load();
        long newest = entries.values().stream().filter(Entry::isSegment).mapToLong(Entry::modifiedMillis).max()
                .orElse(0);
        if (Files.isDirectory(incoming)) {
            try (Stream<Path> files = Files.list(incoming)) {
                for (Path f : files.toList()) {
                    newest = Math.max(newest, Files.getLastModifiedTime(f).toMillis());
                }
            }
        }
        return newest == 0 ? java.util.Optional.empty() : java.util.Optional.of(Instant.ofEpochMilli(newest));
    }

    /** The system identifier of the cluster whose WAL this is; empty before the first was recorded. */
    public synchronized Optional<String> systemIdentifier() throws IOException {
        Path f = dir.resolve(SYSTEM);
        return Files.isRegularFile(f) ? Optional.of(Files.readString(f, StandardCharsets.UTF_8).strip()) : Optional.empty();
    }

    public synchronized void systemIdentifier(String id) throws IOException {
        Files.createDirectories(dir);
        Durable.writeAtomically(dir.resolve(SYSTEM), (id + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Sets this archive aside as {@code <dir>-<suffix>} (the WAL of a cluster that is gone: a wiped volume's
     * old cluster can still be recovered from it) and starts an empty one in its place.
     */
    public synchronized Path setAside(String suffix) throws IOException {
        Path aside = dir.resolveSibling(DIR + "-" + suffix);
        if (Files.exists(dir)) {
            Durable.rename(dir, aside);
        }
        ledger.forget();
        return aside;
    }

    /**
     * The cluster's WAL segment size, as its complete segments show it (initdb --wal-segsize; 16 MiB, the
     * default, before the first one arrived).
     */
    public synchronized long segmentSize() throws IOException {
        ledger.load();
        return entries.values().stream().filter(Entry::isSegment).mapToLong(Entry::size).max().orElse(16L << 20);
    }

    /** Bytes the archive holds on disk. */
    public synchronized long bytes() throws IOException {
        ledger.load();
        return entries.values().stream().mapToLong(Entry::size).sum();
    }
}
