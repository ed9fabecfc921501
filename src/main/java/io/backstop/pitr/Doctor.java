package io.backstop.pitr;

import io.backstop.BackstopException;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Database;
import io.backstop.pg.LocalCluster;
import io.backstop.pg.PgTools;
import io.backstop.pg.PgVersion;
import io.backstop.pg.Redactor;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What point-in-time recovery needs from a target's server and from this host, each checked for real
 * and each miss with the exact fix: a login; the role's REPLICATION attribute; a pg_hba.conf line that
 * admits a replication connection from here (a replication connection is opened); wal_level; free WAL
 * senders and slots; the slot's cap (max_slot_wal_keep_size); and local binaries that can stream,
 * back up, verify and replay this server's major version.
 */
public final class Doctor {
    private final PgTools tools;

    public Doctor(PgTools tools) {
        this.tools = tools;
    }

    /** One check: {@code ok}, or a miss with its fix; {@code warning} misses do not fail the doctor. */
    public record Finding(String check, boolean ok, boolean warning, String detail) {
        static Finding ok(String check, String detail) {
            return new Finding(check, true, false, detail);
        }

        static Finding miss(String check, String fix) {
            return new Finding(check, false, false, fix);
        }

        static Finding warn(String check, String fix) {
            return new Finding(check, false, true, fix);
        }
    }

    public List<Finding> examine(Target t) {
        List<Finding> findings = new ArrayList<>();
        Database db = new Database(t);
        Slot.Server server;
        PgVersion version;
        boolean slotExists;
        try (Connection c = db.connect()) {
            server = Slot.server(c);
            version = io.backstop.catalog.ServerInfo.read(c).version();
            slotExists = Slot.read(c, t.pitr().slot()).exists();
            findings.add(Finding.ok("login", t.describe() + ", PostgreSQL " + version));
        } catch (BackstopException | SQLException e) {
            findings.add(Finding.miss("login", Redactor.redact(String.valueOf(e.getMessage()))));
            return findings;
        }
        findings.add(server.replicationRole() ? Finding.ok("replication attribute", "role " + t.user() + " may replicate")
                : Finding.miss("replication attribute", "role " + t.user() + " may not stream WAL. On the server: ALTER ROLE \""
                        + t.user() + "\" REPLICATION;"));
        findings.add(replicationLogin(db, t));
        findings.add(server.walLevel().equals("replica") || server.walLevel().equals("logical")
                ? Finding.ok("wal_level", server.walLevel())
                : Finding.miss("wal_level", "wal_level = " + server.walLevel() + " keeps no WAL to stream. On the server:"
                        + " ALTER SYSTEM SET wal_level = replica; then restart it"));
        int sendersNeeded = 2; // pg_receivewal, and pg_basebackup's WAL stream while it runs
        int freeSenders = server.maxWalSenders() - server.walSendersInUse();
        findings.add(freeSenders >= sendersNeeded || slotExists && freeSenders >= 1
                ? Finding.ok("max_wal_senders", freeSenders + " of " + server.maxWalSenders() + " free")
                : Finding.miss("max_wal_senders", "only " + freeSenders + " of " + server.maxWalSenders() + " WAL senders"
                        + " free; Backstop needs " + sendersNeeded + ". On the server: ALTER SYSTEM SET max_wal_senders = "
                        + (server.walSendersInUse() + sendersNeeded + 2) + "; then restart it"));
        int freeSlots = server.maxReplicationSlots() - server.slotsInUse();
        findings.add(slotExists || freeSlots >= 1
                ? Finding.ok("replication slot", slotExists ? "slot " + t.pitr().slot() + " exists"
                        : freeSlots + " of " + server.maxReplicationSlots() + " slots free; Backstop creates "
                                + t.pitr().slot())
                : Finding.miss("replication slot", "no free replication slot (" + server.slotsInUse() + " of "
                        + server.maxReplicationSlots() + " in use). On the server: ALTER SYSTEM SET max_replication_slots = "
                        + (server.slotsInUse() + 2) + "; then restart it"));
        findings.add(server.slotUncapped()
                ? Finding.warn("slot cap", "max_slot_wal_keep_size = -1: while Backstop is stopped its slot keeps WAL"
                        + " on the server without limit, until the disk is full. On the server: ALTER SYSTEM SET"
                        + " max_slot_wal_keep_size = '10GB'; SELECT pg_reload_conf(); (past the cap the slot is given"
                        + " up: a gap Backstop reports, never an outage)")
                : Finding.ok("slot cap", "max_slot_wal_keep_size = " + server.maxSlotWalKeepSizeMb() + " MB"));
        findings.addAll(binaries(version));
        return findings;
    }

    private static Finding replicationLogin(Database db, Target t) {
        try (Connection c = db.replicationConnection(); Statement st = c.createStatement()) {
            st.execute("IDENTIFY_SYSTEM");
            return Finding.ok("pg_hba.conf", "a replication connection is admitted from here");
        } catch (SQLException e) {
            String m = Redactor.redact(String.valueOf(e.getMessage()));
            if (m.contains("pg_hba.conf")) {
                String host = hostIn(m).orElse("<this sidecar's address>");
                return Finding.miss("pg_hba.conf", "the server admits no replication connection from here (" + m + ")."
                        + " Add to its pg_hba.conf:  host replication " + t.user() + " " + host
                        + (host.contains(":") ? "/128" : "/32") + " scram-sha-256  then SELECT pg_reload_conf();"
                        + " (the official postgres image has no such line: docker-compose.yml mounts one from config/)");
            }
            return Finding.miss("pg_hba.conf", "a replication connection failed: " + m);
        }
    }

    /** The client address in the server's "no pg_hba.conf entry for replication connection from host "x"" message. */
    private static Optional<String> hostIn(String message) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("host \"([^\"]+)\"").matcher(message);
        return m.find() ? Optional.of(m.group(1)) : Optional.empty();
    }

    private List<Finding> binaries(PgVersion server) {
        List<Finding> findings = new ArrayList<>();
        io.backstop.pg.PgTools dumper = tools.forServer(server);
        try {
            dumper.requireDumpCanRead(server);
            findings.add(Finding.ok("pg_dump", "pg_dump " + dumper.dumpVersion() + " in " + dumper.binDir()
                    + " dumps this server (clients here: " + String.join(", ", tools.installedMajors()) + ")"));
        } catch (BackstopException e) {
            findings.add(Finding.miss("pg_dump", e.getMessage()));
        }
        for (String tool : List.of("pg_receivewal", "pg_basebackup", "pg_verifybackup", "pg_waldump")) {
            try {
                Path p = tools.tool(tool);
                PgVersion client = tools.dumpVersion();
                findings.add(client.major() >= server.major()
                        ? Finding.ok(tool, p + " (" + client + ")")
                        : Finding.miss(tool, p + " is " + client + ", older than the server " + server + ": use the"
                                + " Backstop image built with PG_MAJOR=" + server.majorText()
                                + " or point backstop.pg-dump.bin-dir at PostgreSQL " + server.majorText() + " binaries"));
            } catch (BackstopException e) {
                findings.add(Finding.miss(tool, e.getMessage()));
            }
        }
        Optional<Path> replay = LocalCluster.serverBinaries(tools.pgDump().getParent(), server.majorText());
        findings.add(replay.isPresent()
                ? Finding.ok("replay binaries", "PostgreSQL " + server.majorText() + " server in " + replay.get()
                        + " (PITR drills and restores replay with the server's own major version)")
                : Finding.miss("replay binaries", "no PostgreSQL " + server.majorText() + " server binaries (initdb,"
                        + " postgres) here: a WAL replay needs the server's own major version. Use the Backstop image"
                        + " built with PG_MAJOR=" + server.majorText() + " (it carries them), or install postgresql-"
                        + server.majorText() + " on this host"));
        return findings;
    }
}
