package io.backstop.pitr;

import io.backstop.files.Durable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A WAL archive's ledger file ({@code ledger.tsv}) and what it records, by name. Read again whenever the
 * file changed since this process last read or wrote it: in a fleet another node appends to it while it
 * streams, and rewrites it when it prunes (a new file); a node that read it once would miss what that node
 * recorded and see a gap where there is none. Callers hold the archive's lock.
 */
final class WalLedger {
    private static final Logger log = LoggerFactory.getLogger(WalLedger.class);

    private final Path file;
    private final Map<String, WalArchive.Entry> entries = new TreeMap<>();
    private boolean loaded;
    /** The file as last read or written here: its identity, size and modification time. */
    private List<Object> seen = List.of();

    WalLedger(Path file) {
        this.file = file;
    }

    /** The live map {@link #load} fills; the archive removes from it before {@link #rewrite}. */
    Map<String, WalArchive.Entry> entries() {
        return entries;
    }

    /** Reads the file when it changed since this process last read or wrote it. */
    void load() throws IOException {
        List<Object> state = state();
        if (loaded && state.equals(seen)) {
            return;
        }
        entries.clear();
        seen = state;
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    try {
                        WalArchive.Entry e = WalArchive.Entry.parse(line);
                        entries.put(e.name(), e);
                    } catch (RuntimeException torn) {
                        log.warn("WAL ledger {}: skipping a line that is not an entry (a write cut short): {}", file,
                                line.length() > 80 ? line.substring(0, 80) : line);
                    }
                }
            }
        } catch (NoSuchFileException none) {
            // a new archive
        }
        loaded = true;
    }

    /** One entry more, on disk (synced) before it counts here. */
    void append(WalArchive.Entry entry) throws IOException {
        Files.createDirectories(file.getParent());
        boolean current = state().equals(seen);
        Files.write(file, entry.line().getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE,
                StandardOpenOption.APPEND, StandardOpenOption.WRITE, StandardOpenOption.SYNC);
        entries.put(entry.name(), entry);
        if (current) {
            seen = state();
        } else {
            loaded = false; // what another process wrote meanwhile is read at the next use
        }
    }

    /** The file written again from {@link #entries} (after removals), atomically. */
    void rewrite() throws IOException {
        StringBuilder text = new StringBuilder();
        entries.values().forEach(e -> text.append(e.line()));
        Durable.writeAtomically(file, text.toString().getBytes(StandardCharsets.UTF_8));
        seen = state();
    }

    /** Nothing known: the next use reads the file (the archive was set aside). */
    void forget() {
        entries.clear();
        loaded = false;
    }

    /** The file's identity, size and modification time; empty when there is none. */
    private List<Object> state() throws IOException {
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            return Arrays.asList(a.fileKey(), a.size(), a.lastModifiedTime());
        } catch (NoSuchFileException none) {
            return List.of();
        }
    }
}
