package io.backstop.cli;

import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.config.Settings;
import io.backstop.pitr.Doctor;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code backstop doctor}: what each target's server and this host lack for WAL streaming and replay, with fixes. */
@Command(name = "doctor", header = "Check what point-in-time recovery needs, with the fix for each miss.",
        description = {"For each target: the login, the REPLICATION attribute, a pg_hba.conf line for replication",
                "connections from here (one is opened), wal_level, free WAL senders and slots, the slot's cap",
                "(max_slot_wal_keep_size) and local binaries of the server's major version.",
                "Exit 0: nothing missing (warnings allowed); 2: something is; 3: a server cannot be reached."})
public final class DoctorCommand implements Callable<Integer> {
    @ParentCommand
    BackstopCommand parent;

    @Spec
    CommandSpec spec;

    @Mixin
    TargetOption targets;

    @Override
    public Integer call() {
        Components main = parent.components();
        PrintWriter out = spec.commandLine().getOut();
        Doctor doctor = new Doctor(main.tools());
        int status = ExitCode.OK.status();
        for (Settings.Target t : main.targets(targets.name())) {
            out.printf("%s (%s)%s:%n", t.name(), t.describe(), t.pitr().enabled() ? "" : " — pitr.enabled is false");
            List<Doctor.Finding> findings = doctor.examine(t);
            for (Doctor.Finding f : findings) {
                out.printf("  %-5s %-22s %s%n", f.ok() ? "ok" : f.warning() ? "WARN" : "FIX", f.check(), f.detail());
            }
            if (findings.size() == 1 && !findings.get(0).ok()) {
                status = Math.max(status, ExitCode.DATABASE_UNREACHABLE.status());
            } else if (findings.stream().anyMatch(f -> !f.ok() && !f.warning())) {
                status = Math.max(status, ExitCode.USAGE.status());
            }
        }
        return status;
    }
}
