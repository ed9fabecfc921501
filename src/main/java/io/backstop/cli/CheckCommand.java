package io.backstop.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.config.Settings;
import io.backstop.counts.Check;
import io.backstop.counts.Drop;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code backstop check}: live counts against the baseline; exit 1 when data dropped. */
@Command(name = "check", header = "Compare live row counts with the baseline.",
        description = {"Compare live row counts with the baseline (the last verified backup's).",
        "Exit 0 when nothing dropped, 1 when a table lost rows: a gate before and after a migration."})
public final class CheckCommand implements Callable<Integer> {
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
        Components main = parent.components();
        PrintWriter out = spec.commandLine().getOut();
        Check check = main.check();
        boolean dropped = false;
        List<Map<String, Object>> reports = new ArrayList<>();
        for (Settings.Target t : main.targets(targets.name())) {
            long started = System.nanoTime();
            Check.Result r = check.run(t);
            long millis = (System.nanoTime() - started) / 1_000_000;
            dropped |= !r.drops().isEmpty();
            if (json) {
                Map<String, Object> report = new LinkedHashMap<>();
                report.put("target", t.name());
                report.put("alarm", r.alarmRaised());
                report.put("baseline", r.baseline() == null ? null : r.baseline().rowCounts());
                report.put("baseline_file", r.baseline() == null ? null : r.baseline().file());
                report.put("live", r.counts());
                report.put("drops", r.drops());
                report.put("pinned", r.alarm() == null ? List.of() : r.alarm().pinned());
                report.put("recover_command", r.alarmRaised()
                        ? io.backstop.counts.Drop.recoverCommand(t.name(), r.drops(), t.pitr().enabled()).orElse(null) : null);
                if (r.alarmRaised()) {
                    io.backstop.pitr.Incidents.recorded(main.layout().targetDir(t.name()), r.alarm().raisedAt(),
                            main.manifests().json()).ifPresent(i -> report.put("incident", i));
                }
                report.put("held_until_ack", r.held());
                report.put("method", r.method());
                report.put("duration_ms", millis);
                reports.add(report);
            } else {
                print(out, t.name(), r, t.pitr().enabled());
                out.printf("checked %d tables in %d ms (%s)%n", r.counts().size(), millis, r.method());
            }
        }
        if (json) {
            out.println(main.manifests().json().writeValueAsString(reports));
        }
        return dropped ? ExitCode.CHECK_FAILED.status() : ExitCode.OK.status();
    }

    static void print(PrintWriter out, String target, Check.Result r, boolean pitr) {
        if (r.baseline() == null) {
            out.printf("check %s: no baseline yet (it is set by the first verified backup); %d tables counted%n",
                    target, r.counts().size());
            return;
        }
        Map<String, Long> base = r.baseline().rowCounts();
        TreeSet<String> tables = new TreeSet<>(base.keySet());
        tables.addAll(r.counts().keySet());
        String format = "%-40s %14s %14s %9s  %s%n";
        out.printf(format, "TABLE", "BASELINE", "LIVE", "CHANGE", "STATUS");
        for (String table : tables) {
            Long before = base.get(table);
            Long now = r.counts().get(table);
            String change = before == null || now == null || before == 0 ? "" : String.format("%+.1f%%", 100.0 * (now - before) / before);
            String status = r.drops().stream().filter(d -> table.equals(d.table())).findFirst()
                    .map(d -> d.kind().name()).orElse(before == null ? "new" : "ok");
            out.printf(format, table, before == null ? "-" : String.format("%,d", before),
                    now == null ? "gone" : String.format("%,d", now), change, status);
        }
        for (Drop d : r.drops()) {
            // Row counts are in the table above; what they cannot show is said in a line of its own.
            if ((d.kind() != Drop.Kind.DROPPED && d.kind() != Drop.Kind.EMPTIED && d.kind() != Drop.Kind.GONE)
                    || Drop.RESET.equals(d.reason())) {
                out.println(d.kind() + ": " + d.describe());
            }
        }
        if (r.drops().isEmpty()) {
            out.printf("check %s: ok, nothing dropped against the baseline of %s%n", target,
                    r.baseline().file() == null ? "the last ack" : r.baseline().file());
            if (!r.held().isEmpty()) {
                out.printf("pinned by an earlier alarm, kept until `backstop ack --target %s`: %s%n", target,
                        String.join(", ", r.held()));
            }
        } else {
            out.printf("check %s: DATA DROPPED (%d %s); pinned: %s. Restore from the pinned backup, or `backstop ack"
                    + " --target %s` if the change was intended.%n", target, r.drops().size(),
                    r.drops().size() == 1 ? "problem" : "problems",
                    r.alarm() == null || r.alarm().pinned().isEmpty() ? "none" : String.join(", ", r.alarm().pinned()),
                    target);
            Drop.recoverCommand(target, r.drops(), pitr).ifPresent(cmd -> out.printf("Put back only the lost rows (rows written"
                    + " since are kept; a dry run first):%n  %s%n  %s --apply%n", cmd, cmd));
        }
    }
}
