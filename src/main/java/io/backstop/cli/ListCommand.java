package io.backstop.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.backstop.app.Components;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifest;
import io.backstop.config.Settings;
import io.backstop.files.Sizes;
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

    @Option(names = "--offsite", description = "List the copies in the offsite store instead (works from a new host"
            + " with only the bucket's credentials).")
    boolean offsite;

    @Override
    public Integer call() throws JsonProcessingException {
        Components main = parent.components();
        PrintWriter out = spec.commandLine().getOut();
        if (offsite) {
            return listOffsite(main, out);
        }
        Catalog catalog = main.catalog();
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Settings.Target t : main.targets(targets.name())) {
            Map<String, io.backstop.offsite.Copy> copies = main.offsite()
                    .map(o -> o.state(t.name()).copies()).orElse(null);
            java.util.Set<String> waiting = main.offsite().map(o -> o.waiting(t.name())).orElse(java.util.Set.of());
            for (Catalog.Entry e : catalog.list(t.name())) {
                Map<String, Object> row = new LinkedHashMap<>();
                Optional<Manifest> m = e.manifest();
                row.put("kind", "backup");
                row.put("target", t.name());
                row.put("tier", e.tier().dir());
                row.put("file", main.layout().root().relativize(e.file()).toString());
                row.put("started_at", e.started().toString());
                row.put("size_bytes", m.map(Manifest::sizeBytes).orElse(null));
                row.put("duration_seconds", m.map(Manifest::durationSeconds).orElse(null));
                row.put("rows", m.map(Manifest::totalRows).orElse(null));
                row.put("tables", m.map(x -> x.rowCounts().size()).orElse(null));
                row.put("label", m.map(Manifest::label).orElse(null));
                row.put("node", m.map(Manifest::node).orElse(null));
                row.put("verified", e.verified());
                row.put("pinned", e.pinned());
                row.put("pin_reason", m.map(Manifest::pinReason).orElse(null));
                row.put("damaged", e.damaged());
                row.put("taken_during_alarm", m.map(Manifest::takenDuringAlarm).orElse(false));
                row.put("problem", e.problem());
                String relative = e.tier().dir() + "/" + e.file().getFileName();
                row.put("offsite", copies == null ? null : offsiteOf(copies.get(relative), waiting.contains(relative),
                        e.verified()));
                rows.add(row);
            }
        }
        Map<String, io.backstop.pitr.Window> windows = new LinkedHashMap<>();
        for (Settings.Target t : main.targets(targets.name())) {
            if (t.pitr().enabled() || java.nio.file.Files.isDirectory(main.layout().targetDir(t.name())
                    .resolve(io.backstop.pitr.WalArchive.DIR))) {
                windows.put(t.name(), io.backstop.pitr.Pitr.window(main.layout(), t.name(), main.manifests().json(),
                        main.clock()));
            }
        }
        if (json) {
            List<Object> all = new ArrayList<>(rows);
            windows.forEach((target, w) -> {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("kind", "pitr-window");
                row.put("target", target);
                row.put("window", w);
                incident(main, target).ifPresent(i -> row.put("incident", i));
                all.add(row);
            });
            out.println(main.manifests().json().writeValueAsString(all));
            return 0;
        }
        windows.forEach((target, w) -> {
            out.printf("%s: recoverable to any second: %s (%d base backups, %d WAL segments, %s)%n", target,
                    w.describe(), w.baseBackups(), w.segments(), Sizes.bytes(w.archiveBytes()));
            incident(main, target).ifPresent(i -> out.printf("%s: the data-loss alarm's incident: %s%n", target,
                    i.describe()));
            try (java.util.stream.Stream<java.nio.file.Path> dirs = java.nio.file.Files.list(main.layout().targetDir(target))) {
                dirs.map(d -> d.getFileName().toString()).filter(n -> n.startsWith("wal-") || n.startsWith("base-"))
                        .sorted().forEach(n -> out.printf("%s: kept from an earlier cluster (another system"
                                + " identifier): %s%n", target, main.layout().targetDir(target).resolve(n)));
            } catch (java.io.IOException e) {
                // nothing set aside can be listed; the window above stands
            }
        });
        if (rows.isEmpty()) {
            List<String> names = main.targets(targets.name()).stream().map(Settings.Target::name).toList();
            List<String> others = otherTargets(main.layout().root(), names);
            out.println("no backups of target " + String.join(", ", names) + " under " + main.layout().root()
                    + (others.isEmpty() ? "" : "; this directory holds backups of: " + String.join(", ", others)
                    + " (name one with --target, or set BACKSTOP_TARGET)"));
            return 0;
        }
        boolean withOffsite = main.offsite().isPresent();
        // In a fleet: which node took each backup.
        boolean withNode = rows.stream().anyMatch(r -> r.get("node") != null);
        String format = "%-12s %-8s %-20s %10s %9s %12s %-8s %-6s " + (withOffsite ? "%-8s " : "%s")
                + (withNode ? "%-12s " : "%s") + "%-16s %s%n";
        out.printf(format, "TARGET", "TIER", "STARTED", "SIZE", "DURATION", "ROWS", "VERIFIED", "PINNED",
                withOffsite ? "OFFSITE" : "", withNode ? "NODE" : "", "LABEL", "FILE");
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
                    withOffsite ? ((Map<?, ?>) r.get("offsite")).get("state") : "",
                    withNode ? (r.get("node") == null ? "-" : r.get("node")) : "",
                    r.get("label") == null ? "" : r.get("label"),
                    r.get("file") + (r.get("problem") == null ? "" : "  (" + r.get("problem") + ")"));
        }
        return 0;
    }

    /**
     * A backup's offsite state for list: copied (with where and how it was checked), pending (its upload
     * is due), not-kept (offsite retention keeps fewer of its tier, or deleted its copy), or - (not verified).
     */
    private static Map<String, Object> offsiteOf(io.backstop.offsite.Copy copy, boolean waiting,
            boolean verified) {
        Map<String, Object> o = new LinkedHashMap<>();
        if (copy == null) {
            o.put("state", waiting ? "pending" : verified ? "not-kept" : "-");
            return o;
        }
        o.put("state", "copied");
        o.put("key", copy.key());
        o.put("size_bytes", copy.size());
        o.put("sha256", copy.sha256());
        o.put("encrypted", copy.encrypted());
        o.put("uploaded_at", copy.uploadedAt().toString());
        o.put("readback", copy.readback());
        o.put("retain_until", copy.retainUntil() == null ? null : copy.retainUntil().toString());
        return o;
    }

    private int listOffsite(Components main, PrintWriter out) throws JsonProcessingException {
        io.backstop.offsite.Offsite store = main.offsite().orElseThrow(() -> new io.backstop.BackstopException(
                io.backstop.ExitCode.USAGE, "--offsite: no offsite store is configured; set offsite.url"
                        + " (BACKSTOP_OFFSITE_URL), its endpoint and keys"));
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Settings.Target t : main.targets(targets.name())) {
            for (io.backstop.offsite.Remote r : store.remote(t.name())) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("target", t.name());
                row.put("tier", r.tier().dir());
                row.put("key", r.key());
                row.put("started_at", r.manifest().startedAt().toString());
                row.put("size_bytes", r.size());
                row.put("rows", r.manifest().totalRows());
                row.put("label", r.manifest().label());
                row.put("encrypted", r.encrypted());
                row.put("taken_during_alarm", r.manifest().takenDuringAlarm());
                rows.add(row);
            }
        }
        if (json) {
            out.println(main.manifests().json().writeValueAsString(rows));
            return 0;
        }
        if (rows.isEmpty()) {
            out.println("no offsite copies under " + store.where());
            return 0;
        }
        String format = "%-12s %-8s %-20s %10s %12s %-9s %-16s %s%n";
        out.printf(format, "TARGET", "TIER", "STARTED", "SIZE", "ROWS", "ENCRYPTED", "LABEL", "KEY");
        for (Map<String, Object> r : rows) {
            out.printf(format, r.get("target"), r.get("tier"), TIME.format(java.time.Instant.parse((String) r.get("started_at"))),
                    Sizes.bytes((Long) r.get("size_bytes")), String.format("%,d", (Long) r.get("rows")),
                    (Boolean) r.get("encrypted") ? "age" : "no", r.get("label") == null ? "" : r.get("label"),
                    r.get("key"));
        }
        out.println("restore one: backstop restore offsite:FILE|latest --into DB [--identity KEYFILE]");
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
                    .filter(d -> java.util.Arrays.stream(io.backstop.catalog.Tier.values())
                            .anyMatch(t -> java.nio.file.Files.isDirectory(d.resolve(t.dir()))))
                    .map(d -> d.getFileName().toString()).sorted().toList();
        } catch (java.io.IOException e) {
            return List.of();
        }
    }

    /** While an alarm is raised: the commit behind it, once found in the archived WAL. */
    private static java.util.Optional<io.backstop.pitr.Incidents.Incident> incident(Components main, String target) {
        io.backstop.counts.TargetState state = main.states().readOrWarn(target, w -> { });
        return state == null || !state.alarmRaised() ? java.util.Optional.empty()
                : io.backstop.pitr.Incidents.recorded(main.layout().targetDir(target), state.alarm().raisedAt(),
                        main.manifests().json());
    }
}
