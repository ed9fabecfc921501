package io.backstop.pitr;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import io.backstop.files.Durable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gaps in one target's WAL that the archive's file names cannot show: a lost slot, WAL the server
 * removed before it was received. Kept in {@code <target>/wal-gaps.json} so that a restart still knows
 * that no base backup before them reaches the present. A gap stops mattering once the oldest kept
 * base backup started after it ({@link #forgetBefore}).
 */
public final class Gaps {
    private static final Logger log = LoggerFactory.getLogger(Gaps.class);
    static final String FILE = "wal-gaps.json";

    private final Path file;
    private final ObjectMapper json;
    private final Clock clock;

    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Gap(Instant at, String reason, String serverLsn) {
    }

    public Gaps(Path targetDir, ObjectMapper json, Clock clock) {
        this.file = targetDir.resolve(FILE);
        this.json = json;
        this.clock = clock;
    }

    public synchronized List<Gap> list() {
        if (!Files.isRegularFile(file)) {
            return List.of();
        }
        try {
            return json.readValue(file.toFile(), new TypeReference<List<Gap>>() { });
        } catch (IOException e) {
            log.warn("{} cannot be read ({}); it is taken as one gap now", file, e.getMessage());
            return List.of(new Gap(clock.instant(), "the record of earlier gaps (" + file + ") is unreadable", null));
        }
    }

    public synchronized Gap record(String reason, String serverLsn) {
        Gap gap = new Gap(clock.instant(), reason, serverLsn);
        List<Gap> all = new ArrayList<>(list());
        all.add(gap);
        write(all);
        log.warn("WAL gap: {}; a new base backup starts the recoverable window again", reason);
        return gap;
    }

    /** Drops gaps from before {@code instant} (the start of the oldest kept base backup). */
    public synchronized void forgetBefore(Instant instant) {
        List<Gap> all = list();
        List<Gap> kept = all.stream().filter(g -> !g.at().isBefore(instant)).toList();
        if (kept.size() != all.size()) {
            write(kept);
        }
    }

    private void write(List<Gap> gaps) {
        try {
            Durable.writeAtomically(file, json.writeValueAsBytes(gaps));
        } catch (IOException e) {
            throw Durable.storageError("cannot record a WAL gap in " + file, e);
        }
    }
}
