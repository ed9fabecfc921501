package io.backstop.cli;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.config.Settings;
import io.backstop.files.Sizes;
import io.backstop.offsite.Offsite;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code backstop offsite}: upload the verified backups that have no offsite copy yet, then apply offsite retention. */
@Command(name = "offsite", header = "Copy verified backups offsite now.",
        description = {"Upload every verified backup that has no offsite copy yet (newest first), read each copy's",
        "size and checksum back, then apply offsite retention. The daemon does this after every backup",
        "and retries failures; this command is for catching up by hand. Needs offsite.url."})
public final class OffsiteCommand implements Callable<Integer> {
    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    TargetOption targets;

    @picocli.CommandLine.Option(names = "--json", description = "One JSON object per target (what the daemon reads).")
    boolean json;

    @Override
    public Integer call() throws com.fasterxml.jackson.core.JsonProcessingException {
        Components main = parent.components();
        PrintWriter out = spec.commandLine().getOut();
        Offsite offsite = main.offsite().orElseThrow(() -> new BackstopException(ExitCode.USAGE,
                "backstop.offsite.url is empty: no offsite store is configured; allowed: s3://BUCKET[/PREFIX] in the"
                        + " configuration or BACKSTOP_OFFSITE_URL"));
        for (Settings.Target t : main.targets(targets.name())) {
            Offsite.Status s = offsite.syncLocked(t.name(), Duration.ofMinutes(1));
            io.backstop.pitr.WalOffsite.Status wal = t.pitr().enabled() ? main.walOffsite().orElseThrow().sync(t.name())
                    : new io.backstop.pitr.WalOffsite.Status(0, 0, 0);
            if (json) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("target", t.name());
                row.put("uploaded", s.uploaded() + wal.uploaded());
                row.put("copied", s.copied());
                row.put("bytes", s.bytes() + wal.bytes());
                row.put("deleted", s.deleted() + wal.deleted());
                row.put("wal_uploaded", wal.uploaded());
                row.put("locked", s.locked());
                row.put("copies", offsite.state(t.name()).copies().size());
                row.put("at", s.at().toString());
                out.println(main.manifests().json().writeValueAsString(row));
                continue;
            }
            out.printf("offsite %s: %d uploaded (%s), %d copied in the store, %d deleted by offsite retention, %d kept"
                    + " by object lock or a refused delete; %d copies in %s%n", t.name(), s.uploaded(), Sizes.bytes(s.bytes()), s.copied(),
                    s.deleted(), s.locked(),
                    offsite.state(t.name()).copies().size(), offsite.settings().describe());
            if (t.pitr().enabled()) {
                out.printf("offsite %s: WAL and base backups: %d files uploaded (%s), %d deleted%n", t.name(),
                        wal.uploaded(), Sizes.bytes(wal.bytes()), wal.deleted());
            }
        }
        return 0;
    }
}
