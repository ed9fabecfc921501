package io.backstop.http;

import io.backstop.config.Settings;
import io.backstop.counts.Drop;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TimeZone;
import java.util.TreeSet;

/**
 * {@code GET /}: the status page for people, rendered from memory like /health (never blocked by a
 * dump). Per target: health in words, last and next backup, the recoverable window, row counts
 * with drops marked, pinned backups, the command to run during an alarm, drills, offsite copies;
 * then the notification channels. Plain HTML and CSS that reads on a phone; no script (it reloads
 * itself every 30 s); no secrets: no host, user, URL or error that carries one.
 */
final class StatusPage {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss z", Locale.ROOT);
    private static final Map<Health.Reason, String> WORDS = Map.of(
            Health.Reason.DATA_DROP, "Data-loss alarm: rows disappeared",
            Health.Reason.FAILING, "The last backup failed",
            Health.Reason.STALE, "The newest verified backup is too old",
            Health.Reason.NO_BACKUP, "No verified backup yet",
            Health.Reason.DRILL_FAILED, "The restore drill failed",
            Health.Reason.DRILL_NOT_RUN, "The restore drill could not run",
            Health.Reason.BACKUP_DAMAGED, "A backup no longer matches its manifest",
            Health.Reason.OFFSITE_STALE, "Offsite copies are behind",
            Health.Reason.WAL_STALE, "WAL streaming has stalled",
            Health.Reason.WAL_GAP, "Gap in the WAL archive");

    private final Settings settings;
    private final HealthState state;
    private final ZoneId zone;

    StatusPage(Settings settings, HealthState state) {
        this.settings = settings;
        this.state = state;
        this.zone = settings.timezone();
    }

    String render(Health.Report report, Instant now) {
        StringBuilder h = new StringBuilder(8192);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
                .append("<meta http-equiv=\"refresh\" content=\"30\">")
                .append("<title>").append(report.healthy() ? "OK" : "PROBLEM").append(" · Backstop</title><style>")
                .append(CSS).append("</style></head><body><header><h1>Backstop</h1><p id=\"overall\" class=\"")
                .append(report.healthy() ? "ok" : "bad").append("\">")
                .append(report.healthy() ? "All targets are healthy" : "Needs attention: " + failing(report))
                .append("</p><p class=\"muted\">As of ").append(time(now)).append("</p></header><main>");
        for (Health.TargetHealth t : report.targets()) {
            target(h, t, now);
        }
        notifications(h);
        fleet(h, report.fleet());
        h.append("</main><footer class=\"muted\">Machine-readable: <a href=\"/health\">/health</a> · ")
                .append("<a href=\"/metrics\">/metrics</a></footer></body></html>\n");
        return h.toString();
    }

    private static String failing(Health.Report report) {
        return String.join(", ", report.targets().stream().filter(t -> !t.reasons().isEmpty())
                .map(Health.TargetHealth::target).map(StatusPage::esc).toList());
    }

    private void target(StringBuilder h, Health.TargetHealth t, Instant now) {
        String name = t.target();
        HealthState.TargetFacts f = state.get(name);
        boolean ok = t.reasons().isEmpty();
        h.append("<section class=\"target\" id=\"target-").append(esc(name)).append("\"><h2>").append(esc(name))
                .append(" <span class=\"badge ").append(ok ? "ok\">OK" : "bad\">PROBLEM").append("</span></h2>");
        if (!ok) {
            h.append("<ul class=\"reasons\">");
            for (Health.Reason r : t.reasons()) {
                h.append("<li data-reason=\"").append(r).append("\">").append(esc(WORDS.getOrDefault(r, r.name())))
                        .append("</li>");
            }
            h.append("</ul>");
        }
        if (t.recover() != null) {
            h.append("<div class=\"alarm\"><p><strong>Data-loss alarm.</strong> ");
            for (Drop d : t.drops()) {
                h.append(esc(d.describe())).append(". ");
            }
            h.append("</p>");
            if (t.incident() != null) {
                h.append("<p>Incident found in the WAL: ").append(esc(t.incident().describe())).append("</p>");
            }
            h.append("<p>To undo, run:</p><pre class=\"command\">").append(esc(t.recover()))
                    .append("</pre><p class=\"muted\">A dry run by default: it shows what it would put back; add")
                    .append(" <code>--apply</code> to do it. Or, if the change was intended:")
                    .append(" <code>backstop ack --target ").append(esc(name)).append("</code></p></div>");
        }
        h.append("<dl>");
        row(h, "Last backup", f.lastSuccess() == null ? "none yet" : time(f.lastSuccess()) + " (" + ago(f.lastSuccess(),
                now) + " ago" + (f.lastSizeBytes() > 0 ? ", " + io.backstop.files.Sizes.bytes(f.lastSizeBytes()) : "") + ")");
        if (t.node() != null) {
            row(h, "Taken by", "node " + t.node());
        }
        if (f.inProgress()) {
            row(h, "Now", "a backup is running");
        }
        if (f.lastAttemptFailed()) {
            row(h, "Last attempt", "failed" + (f.consecutiveFailures() > 1 ? " (" + f.consecutiveFailures()
                    + " in a row)" : "") + ": " + (f.lastError() == null ? "" : f.lastError()));
        }
        row(h, "Next backup", next(now));
        io.backstop.pitr.Pitr.Status wal = t.pitr();
        Settings.Target target = settings.target(name).orElseThrow();
        if (!target.pitr().enabled()) {
            row(h, "Recoverable to the second", "off (pitr.enabled): restores are to the backups above");
        } else if (wal == null || wal.window().from() == null) {
            row(h, "Recoverable to the second", "no window yet (waiting for a base backup and WAL)");
        } else {
            row(h, "Recoverable to the second", "from " + time(wal.window().from()) + " to " + time(wal.window().to())
                    + (wal.window().gaps().isEmpty() ? "" : "; gaps: " + String.join("; ", wal.window().gaps())));
        }
        List<String> pins = state.pinned(name);
        row(h, "Pinned backups", pins.isEmpty() ? "none" : String.join(", ", pins));
        row(h, "Restore drill", drill(name, f));
        if (settings.offsite().isPresent()) {
            HealthState.OffsiteFacts o = state.offsite(name);
            row(h, "Offsite", (o.lastSuccess() == null ? "no copy yet" : "last copy " + time(o.lastSuccess()))
                    + (o.waitingSince() == null ? "; nothing waits" : "; a backup waits since " + time(o.waitingSince()))
                    + (o.lastError() == null ? "" : "; last error: " + o.lastError()));
        }
        h.append("</dl>");
        rows(h, f, t.drops());
        h.append("</section>");
    }

    private String drill(String name, HealthState.TargetFacts f) {
        String details = state.drillDetails(name);
        String last = f.lastDrillResult() == null ? "not run yet"
                : f.lastDrillResult() == 1 ? "passed" : f.lastDrillResult() == 0 ? "FAILED" : "could not run";
        return last + (f.lastDrillSuccess() == null ? "" : "; last pass " + time(f.lastDrillSuccess()))
                + (details == null || f.lastDrillResult() != null && f.lastDrillResult() == 1 ? "" : ": " + details);
    }

    private void rows(StringBuilder h, HealthState.TargetFacts f, List<Drop> drops) {
        TreeSet<String> tables = new TreeSet<>(f.baseline().keySet());
        tables.addAll(f.tableRows().keySet());
        if (tables.isEmpty()) {
            return;
        }
        java.util.Set<String> dropped = new java.util.HashSet<>();
        drops.forEach(d -> dropped.add(d.table()));
        h.append("<table class=\"rows\"><caption>Row counts</caption><thead><tr><th>Table</th><th>Baseline</th>")
                .append("<th>Now</th><th>Change</th></tr></thead><tbody>");
        for (String table : tables) {
            Long before = f.baseline().get(table);
            Long now = f.tableRows().get(table);
            boolean drop = dropped.contains(table);
            h.append("<tr").append(drop ? " class=\"drop\"" : "").append("><td>").append(esc(table)).append("</td><td>")
                    .append(count(before)).append("</td><td>").append(count(now)).append("</td><td>")
                    .append(change(before, now)).append(drop ? " <strong>DROP</strong>" : "").append("</td></tr>");
        }
        h.append("</tbody></table>");
    }

    private void notifications(StringBuilder h) {
        Map<String, HealthState.NotifyFacts> all = state.notifications();
        h.append("<section id=\"notifications\"><h2>Notifications</h2>");
        if (all.isEmpty()) {
            h.append("<p>No channel is configured: problems reach people only through /health and Prometheus.</p>");
        } else {
            h.append("<table><thead><tr><th>Channel</th><th>Sent</th><th>Failures</th><th>State</th></tr></thead><tbody>");
            for (HealthState.NotifyFacts n : all.values()) {
                boolean failing = n.failingSince() != null;
                h.append("<tr").append(failing ? " class=\"drop\"" : "").append("><td>").append(esc(n.channel()))
                        .append(" (").append(esc(n.type())).append(")</td><td>").append(n.delivered()).append("</td><td>")
                        .append(n.failures()).append(n.dropped() > 0 ? ", " + n.dropped() + " given up" : "")
                        .append("</td><td>").append(failing ? "FAILING since " + esc(time(n.failingSince())) + ": "
                                + esc(n.lastError()) : n.lastDelivered() == null ? "nothing sent yet"
                                : "ok, last " + esc(time(n.lastDelivered()))).append("</td></tr>");
            }
            h.append("</tbody></table>");
        }
        h.append("</section>");
    }

    /** In a fleet: every node, whether it checks in, and which one speaks. */
    private void fleet(StringBuilder h, Health.FleetView fleet) {
        if (fleet == null) {
            return;
        }
        h.append("<section id=\"fleet\"><h2>Fleet</h2><p>This page is served by node <b>").append(esc(fleet.node()))
                .append("</b>").append(fleet.speaks() ? ", which sends the fleet's notifications" : "").append(".");
        if (Math.abs(fleet.clockDriftSeconds()) > 1) {
            h.append(" Its clock is ").append(String.format(Locale.ROOT, "%.1f", Math.abs(fleet.clockDriftSeconds())))
                    .append(" s off the fleet database's: run NTP on every node.");
        }
        h.append("</p><table><thead><tr><th>Node</th><th>Host</th><th>Last check-in</th><th>State</th></tr></thead>")
                .append("<tbody>");
        for (io.backstop.fleet.Fleet.Node n : fleet.nodes()) {
            h.append("<tr").append(n.up() ? "" : " class=\"drop\"").append("><td>").append(esc(n.name()))
                    .append("</td><td>").append(esc(n.host())).append("</td><td>").append(esc(time(n.lastSeen())))
                    .append("</td><td>").append(n.up() ? "up" : "DOWN: not checking in; its jobs are run by the others")
                    .append("</td></tr>");
        }
        h.append("</tbody></table></section>");
    }

    private String next(Instant now) {
        try {
            org.quartz.CronExpression cron = new org.quartz.CronExpression(settings.schedule());
            cron.setTimeZone(TimeZone.getTimeZone(zone));
            Date next = cron.getNextValidTimeAfter(Date.from(now));
            return next == null ? "none scheduled" : time(next.toInstant()) + " (in " + ago(now, next.toInstant()) + ")";
        } catch (java.text.ParseException e) {
            return "unknown";
        }
    }

    private static void row(StringBuilder h, String term, String value) {
        h.append("<dt>").append(esc(term)).append("</dt><dd>").append(esc(value)).append("</dd>");
    }

    private String time(Instant i) {
        return TIME.format(i.atZone(zone));
    }

    private static String ago(Instant from, Instant to) {
        return io.backstop.files.Sizes.age(Duration.between(from, to));
    }

    private static String count(Long n) {
        return n == null ? "–" : String.format(Locale.ROOT, "%,d", n);
    }

    private static String change(Long before, Long now) {
        if (before == null || now == null) {
            return before == null ? "new" : "gone";
        }
        long d = now - before;
        return d == 0 ? "0" : String.format(Locale.ROOT, "%+,d", d) + (before > 0
                ? String.format(Locale.ROOT, " (%+.1f%%)", 100.0 * d / before) : "");
    }

    static String esc(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    private static final String CSS = "body{font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
            + "color:#1b1f24;background:#f4f5f7}header,main,footer{max-width:60rem;margin:0 auto;padding:0 1rem}"
            + "h1{font-size:1.4rem;margin:1rem 0 .2rem}h2{font-size:1.2rem;margin:0 0 .5rem}"
            + "#overall{font-weight:600;padding:.6rem .8rem;border-radius:.4rem;margin:.3rem 0}"
            + ".ok{background:#e3f4e6;color:#14532d}.bad{background:#fde2e1;color:#7f1d1d}"
            + ".muted{color:#5b6470;font-size:.9rem}section{background:#fff;border-radius:.5rem;padding:1rem;"
            + "margin:1rem 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}.badge{font-size:.8rem;padding:.1rem .5rem;"
            + "border-radius:1rem;vertical-align:middle}.badge.ok{background:#1f7a3a;color:#fff}"
            + ".badge.bad{background:#b42318;color:#fff}.reasons{margin:.3rem 0 .8rem;padding-left:1.2rem;"
            + "color:#7f1d1d;font-weight:600}.alarm{border:2px solid #b42318;background:#fff5f5;border-radius:.4rem;"
            + "padding:.5rem .8rem;margin:.5rem 0 1rem}pre.command{white-space:pre-wrap;word-break:break-all;"
            + "background:#111827;color:#f9fafb;padding:.6rem;border-radius:.3rem;font-size:.95rem}"
            + "dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0 0 .8rem}"
            + "dt{color:#5b6470}dd{margin:0;overflow-wrap:anywhere}table{border-collapse:collapse;width:100%;"
            + "font-size:.95rem}caption{text-align:left;font-weight:600;padding:.3rem 0}th,td{text-align:left;"
            + "padding:.3rem .4rem;border-bottom:1px solid #e5e7eb}tr.drop{background:#fde2e1;color:#7f1d1d}"
            + "@media (max-width:36rem){dl{grid-template-columns:1fr}dt{font-weight:600;color:#1b1f24}"
            + "th,td{padding:.3rem .2rem;font-size:.9rem}td:first-child{overflow-wrap:anywhere}}";
}
