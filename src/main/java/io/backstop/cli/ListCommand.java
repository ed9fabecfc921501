package io.backstop.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.backstop.Main;
import io.backstop.backup.Catalog;
import io.backstop.backup.Manifest;
import io.backstop.backup.Sizes;
import io.backstop.config.Settings;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code backstop list}: the backups on disk, oldest first. */
@Command(name = "list", header = "List backups.",
        description = "List backups with time, tier, size, duration, rows, verified and pinned.")
public final class ListCommand implements Callable<Integer> {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss'Z'")
            .withZone(ZoneOffset.UTC);

    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    TargetOption targets;

    @Option(names = "--json", description = "One JSON array, for scripts.")
    boolean json;

    @Override
    public Integer call() throws JsonProcessingException {
        Main main = parent.main();
        PrintWriter out = spec.commandLine().getOut();
        Catalog catalog = main.catalog();
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Settings.Target t : main.targets(targets.name())) {
            for (Catalog.Entry e : catalog.list(t.name())) {
                Map<String, Object> row = new LinkedHashMap<>();
                Optional<Manifest> m = e.manifest();
                row.put("target", t.name());
                row.put("tier", e.tier().dir());
                row.put("file", main.layout().root().relativize(e.file()).toString());
                row.put("started_at", e.started().toString());
                row.put("size_bytes", m.map(Manifest::sizeBytes).orElse(null));
                row.put("duration_seconds", m.map(Manifest::durationSeconds).orElse(null));
                row.put("rows", m.map(Manifest::totalRows).orElse(null));
                row.put("tables", m.map(x -> x.rowCounts().size()).orElse(null));
                row.put("label", m.map(Manifest::label).orElse(null));
                row.put("verified", e.verified());
                row.put("pinned", e.pinned());
                row.put("pin_reason", m.map(Manifest::pinReason).orElse(null));
                row.put("damaged", e.damaged());
                row.put("taken_during_alarm", m.map(Manifest::takenDuringAlarm).orElse(false));
                row.put("problem", e.problem());
                rows.add(row);
            }
        }
        if (json) {
            out.println(main.manifests().json().writeValueAsString(rows));
            return 0;
        }
        if (rows.isEmpty()) {
            List<String> names = main.targets(targets.name()).stream().map(Settings.Target::name).toList();
            List<String> others = otherTargets(main.layout().root(), names);
            out.println("no backups of target " + String.join(", ", names) + " under " + main.layout().root()
                    + (others.isEmpty() ? "" : "; this directory holds backups of: " + String.join(", ", others)
                    + " (name one with --target, or set BACKSTOP_TARGET)"));
            return 0;
        }
        String format = "%-12s %-8s %-20s %10s %9s %12s %-8s %-6s %-16s %s%n";
        out.printf(format, "TARGET", "TIER", "STARTED", "SIZE", "DURATION", "ROWS", "VERIFIED", "PINNED", "LABEL", "FILE");
        for (Map<String, Object> r : rows) {
            Object size = r.get("size_bytes");
            Object duration = r.get("duration_seconds");
            out.printf(format, r.get("target"), r.get("tier"),
                    TIME.format(java.time.Instant.parse((String) r.get("started_at"))),
                    size == null ? "-" : Sizes.bytes((Long) size),
                    duration == null ? "-" : Sizes.seconds(Duration.ofMillis((long) ((Double) duration * 1000))),
                    r.get("rows") == null ? "-" : String.format("%,d", (Long) r.get("rows")),
                    (Boolean) r.get("verified") ? "yes" : "NO",
                    (Boolean) r.get("pinned") ? "yes" : "",
                    r.get("label") == null ? "" : r.get("label"),
                    r.get("file") + (r.get("problem") == null ? "" : "  (" + r.get("problem") + ")"));
        }
        return 0;
    }

    /** Directories under the backup root that hold another target's backups (a dump under a tier directory). */
    private static List<String> otherTargets(java.nio.file.Path root, List<String> configured) {
        if (!java.nio.file.Files.isDirectory(root)) {
            return List.of();
        }
        try (var dirs = java.nio.file.Files.list(root)) {
            return dirs.filter(java.nio.file.Files::isDirectory)
                    .filter(d -> !configured.contains(d.getFileName().toString()))
                    .filter(d -> java.util.Arrays.stream(io.backstop.backup.Tier.values())
                            .anyMatch(t -> java.nio.file.Files.isDirectory(d.resolve(t.dir()))))
                    .map(d -> d.getFileName().toString()).sorted().toList();
        } catch (java.io.IOException e) {
            return List.of();
        }
    }
}
