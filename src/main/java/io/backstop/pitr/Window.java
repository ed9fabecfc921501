package io.backstop.pitr;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * How far back a target can be recovered to any second: from the end of the oldest base backup
 * with an unbroken archive after it ({@code from}) to the newest WAL received ({@code to}). Null
 * {@code from}: no such base backup (none yet, or a gap after the newest). {@code gaps} names every
 * hole in the kept archive and every recorded gap; {@code open} is a gap with no base backup after
 * it, which is what /health calls WAL_GAP.
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record Window(Instant from, Instant to, List<String> gaps, boolean open, int baseBackups, int segments,
        long archiveBytes) {
    public static Window of(List<BaseBackups.Base> bases, WalArchive archive, List<Gaps.Gap> recorded, Instant to)
            throws IOException {
        List<WalArchive.Entry> entries = archive.entries();
        long segmentSize = archive.segmentSize();
        List<String> gaps = new ArrayList<>();
        Instant from = null;
        boolean open = !recorded.isEmpty();
        if (!bases.isEmpty()) {
            WalArchive.Continuity c = archive.continuity(Wal.segnoOf(bases.get(0).start(), segmentSize), segmentSize);
            int timeline = bases.get(bases.size() - 1).timeline();
            for (WalArchive.Hole h : c.holes()) {
                gaps.add("WAL " + Wal.segmentName(timeline, h.from(), segmentSize)
                        + (h.to() == h.from() ? "" : " to " + Wal.segmentName(timeline, h.to(), segmentSize)) + ": "
                        + h.reason());
            }
            for (BaseBackups.Base b : bases) {
                long start = Wal.segnoOf(b.start(), segmentSize);
                boolean broken = c.holes().stream().anyMatch(h -> h.to() >= start)
                        || recorded.stream().anyMatch(g -> g.at().isAfter(b.startedAt()));
                if (!broken) {
                    from = b.finishedAt();
                    break;
                }
            }
            open = from == null && (!c.holes().isEmpty() || !recorded.isEmpty());
        }
        for (Gaps.Gap g : recorded) {
            gaps.add(g.at() + ": " + g.reason());
        }
        int segments = (int) entries.stream().filter(WalArchive.Entry::isSegment).count();
        return new Window(from, to, List.copyOf(gaps), open, bases.size(), segments,
                entries.stream().mapToLong(WalArchive.Entry::size).sum());
    }

    /** One line: "2026-12-06T10:00:00Z to 2026-12-06T17:59:58Z" or why there is none. */
    public String describe() {
        String range = from == null ? (open ? "none: a gap after the newest base backup" : "none yet: no base backup")
                : to == null || to.isBefore(from) ? "from " + from + " (once the WAL after it arrives)"
                        : from + " to " + to;
        return range + (gaps.isEmpty() ? "" : "; gaps: " + String.join("; ", gaps));
    }
}
