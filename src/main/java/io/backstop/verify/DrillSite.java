package io.backstop.verify;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.config.Secret;
import io.backstop.config.Settings;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Database;
import io.backstop.pg.LocalCluster;
import io.backstop.pg.PgTools;
import io.backstop.pg.ProcessRunner;
import io.backstop.restore.DatabaseProperties;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where a restore drill (or an undo's comparison) restores: a separate drill server when
 * {@code restore-drill.server} names one; the target's own server only when
 * {@code restore-drill.on-target} says so explicitly (with a WARN); otherwise, the default, a
 * throwaway cluster Backstop starts with the local server binaries of its pg_dump's major version
 * (the production server never sees it: no scratch database, no WAL, no CREATEDB needed).
 * A local cluster gets the target's roles first (pg_dumpall --roles-only, a read), so owners and
 * grants restore as they would in production.
 */
public final class DrillSite implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DrillSite.class);
    /** How much room a restore needs beyond the database's own size: WAL, indexes built twice, sorts. */
    private static final double DISK_MARGIN = 1.3;

    /** Where drills can run, or why they cannot. */
    public enum Kind { LOCAL_CLUSTER, DRILL_SERVER, TARGET_SERVER }

    private final Kind kind;
    private final Target server;
    private final LocalCluster cluster;

    private DrillSite(Kind kind, Target server, LocalCluster cluster) {
        this.kind = kind;
        this.server = server;
        this.cluster = cluster;
    }

    public Kind kind() {
        return kind;
    }

    /** The server to create the scratch database on, as a target (its maintenance database is postgres). */
    public Target server() {
        return server;
    }

    public String describe() {
        return switch (kind) {
            case LOCAL_CLUSTER -> "a throwaway local cluster (" + cluster.dir() + ")";
            case DRILL_SERVER -> "the drill server " + server.host() + ":" + server.port();
            case TARGET_SERVER -> "the target's own server " + server.host() + ":" + server.port();
        };
    }

    /** Thrown when no site is possible: the drill is reported as not run, never as passed. */
    public static final class NotPossible extends BackstopException {
        private static final long serialVersionUID = 1L;

        NotPossible(String message) {
            super(ExitCode.TOOLS, message);
        }
    }

    /**
     * Opens the site for a drill of {@code target} needing about {@code needBytes} of disk.
     * Starts (and fills with roles) a local cluster when that is the choice.
     */
    public static DrillSite open(Settings settings, PgTools tools, Target target, long needBytes) {
        Settings.RestoreDrill drill = settings.restoreDrill();
        if (drill.server().isPresent()) {
            return new DrillSite(Kind.DRILL_SERVER, drill.server().get(), null);
        }
        if (drill.onTarget()) {
            log.warn("restore drill of target {} runs on the target's own server (restore-drill.on-target = true): a"
                    + " scratch database there, with its WAL, its load, and CREATEDB for the backup role. The default,"
                    + " a throwaway local cluster, keeps drills off production.", target.name());
            return new DrillSite(Kind.TARGET_SERVER, target, null);
        }
        Optional<Path> binaries = LocalCluster.serverBinaries(tools.pgDump().getParent(), tools.dumpVersion().majorText());
        if (binaries.isPresent()) {
            Path parent = scratchParent(settings);
            requireRoom(parent, needBytes);
            String password = UUID.randomUUID().toString();
            LocalCluster cluster = LocalCluster.start(binaries.get(), password, parent);
            Target local = new Target(target.name(), cluster.host(), cluster.port(), "postgres", LocalCluster.SUPERUSER,
                    Secret.of(password), "disable", Duration.ofSeconds(10));
            DrillSite site = new DrillSite(Kind.LOCAL_CLUSTER, local, cluster);
            try {
                site.copyRoles(tools, target, settings.pgDump().timeout());
            } catch (RuntimeException e) {
                site.close();
                throw e;
            }
            return site;
        }
        throw new NotPossible("no PostgreSQL " + tools.dumpVersion().majorText() + " server binaries (initdb, postgres)"
                + " beside " + tools.pgDump() + " or in /usr/lib/postgresql/" + tools.dumpVersion().majorText()
                + "/bin and no restore-drill.server: install the server package"
                + " (apt-get install postgresql-" + tools.dumpVersion().majorText() + ") or configure a drill server");
    }

    /** restore-drill.scratch-dir, else the backup volume, else (when its owner cannot reach it) the temp directory. */
    public static Path scratchParent(Settings settings) {
        Optional<Path> configured = settings.restoreDrill().scratchDir();
        if (configured.isPresent()) {
            return configured.get();
        }
        Path onVolume = settings.backupDir().toAbsolutePath().resolve(".drill-scratch");
        boolean root = "root".equals(System.getProperty("user.name"));
        return root && !worldTraversable(settings.backupDir().toAbsolutePath()) ? Path.of(System.getProperty("java.io.tmpdir"))
                : onVolume;
    }

    /** As root the cluster runs as postgres, which must be able to reach its directory. */
    private static boolean worldTraversable(Path dir) {
        for (Path p = dir; p != null; p = p.getParent()) {
            try {
                if (Files.exists(p) && !Files.getPosixFilePermissions(p).contains(
                        java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE)) {
                    return false;
                }
            } catch (java.io.IOException | RuntimeException e) { // no POSIX permissions here: assume not
                return false;
            }
        }
        return true;
    }

    private static void requireRoom(Path parent, long needBytes) {
        try {
            Files.createDirectories(parent);
            long free = Files.getFileStore(parent).getUsableSpace();
            long need = (long) (needBytes * DISK_MARGIN);
            if (free < need) {
                throw new NotPossible("the drill needs about " + io.backstop.files.Sizes.bytes(need) + " free in "
                        + parent + " and only " + io.backstop.files.Sizes.bytes(free) + " are: it was not started"
                        + " (it would fill the disk). Free space or set restore-drill.scratch-dir to a larger volume");
            }
        } catch (java.io.IOException e) {
            throw new NotPossible("cannot use " + parent + " for the drill's scratch cluster: " + e.getMessage());
        }
    }

    /**
     * Creates the target's roles in the local cluster (owners and grantees must exist for the dump's
     * ALTER ... OWNER and GRANT to restore). pg_dumpall --roles-only --no-role-passwords only reads
     * the target's catalog. When the target cannot be read, no roles are copied and the drill
     * reports what could not be applied.
     */
    private void copyRoles(PgTools tools, Target target, Duration timeout) {
        Path pgDumpAll = tools.pgDump().resolveSibling("pg_dumpall");
        if (!Files.isExecutable(pgDumpAll)) {
            log.warn("restore drill: {} not found; the target's roles are not copied into the drill cluster", pgDumpAll);
            return;
        }
        Database source = new Database(target);
        ByteArrayOutputStream sql = new ByteArrayOutputStream();
        try (Database.PasswordFile passfile = source.passwordFile()) {
            ProcessRunner.Spec spec = ProcessRunner.Spec.of(List.of(pgDumpAll.toString(), "--roles-only",
                    "--no-role-passwords", "--no-password"), source.libpqEnvironment(passfile, target.database()), timeout)
                    .withStdout(in -> in.transferTo(sql));
            ProcessRunner.Result r = new ProcessRunner().run(spec, p -> { });
            if (r.exitCode() != 0) {
                log.warn("restore drill: cannot read the roles of target {} ({}); owners and grants may not restore",
                        target.name(), r.stderrTail());
                return;
            }
        }
        int created = 0;
        try (Connection c = new Database(server).connect("postgres")) {
            for (String statement : DatabaseProperties.statements(sql.toString(StandardCharsets.UTF_8))) {
                if (statement.startsWith("SET ") || statement.startsWith("SELECT ")) {
                    continue;
                }
                try (Statement st = c.createStatement()) {
                    st.execute(statement);
                    created++;
                } catch (SQLException e) {
                    // the bootstrap superuser exists already; others that fail are reported by the restore
                }
            }
        } catch (SQLException e) {
            throw new BackstopException(ExitCode.TOOLS, "cannot prepare the drill cluster: " + e.getMessage(), e);
        }
        log.debug("restore drill: {} role statements applied to the drill cluster", created);
    }

    /** Stops and removes a local cluster; nothing for a server. */
    @Override
    public void close() {
        if (cluster != null) {
            cluster.close();
        }
    }

    /** Clusters a killed drill left in the scratch places; stopped and removed. */
    public static List<Path> sweep(Settings settings) {
        Set<Path> parents = new LinkedHashSet<>(List.of(scratchParent(settings),
                settings.backupDir().toAbsolutePath().resolve(".drill-scratch"), Path.of(System.getProperty("java.io.tmpdir"))));
        List<Path> swept = new ArrayList<>();
        for (Path parent : parents) {
            swept.addAll(LocalCluster.sweep(parent));
        }
        swept.forEach(p -> log.info("removed {}, a drill cluster left by a process that was killed", p));
        return swept;
    }

}
