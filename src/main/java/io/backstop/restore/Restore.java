package io.backstop.restore;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.backup.Backup;
import io.backstop.backup.BackupResult;
import io.backstop.backup.Progress;
import io.backstop.catalog.Archive;
import io.backstop.config.Settings.Target;
import io.backstop.pg.Database;
import io.backstop.pg.PgTools;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restores a backup with the safety people need on their worst day: the file must match its
 * manifest's sha256 before anything is touched; a non-empty database is refused unless
 * {@code clean}; an existing database gets a safety backup (safety tier, {@code pre-restore})
 * first; the operator confirms by typing the database's name; the database is created as the
 * archive describes it (template0, encoding, locale, owner, settings, comment, grants) or, when
 * {@code clean} replaces one, as the database it replaces was; pg_restore stops at the first
 * error unless {@code continueOnError}, naming the object; and the restored row counts are
 * compared with the manifest.
 */
public final class Restore {
    private static final Logger log = LoggerFactory.getLogger(Restore.class);

    private final Backup backup;
    private final io.backstop.counts.Check check;
    private final PgTools tools;
    private final Archive reader;
    private final Duration timeout;

    public Restore(Backup backup, io.backstop.counts.Check check, PgTools tools, Duration timeout, Archive reader) {
        this.reader = reader;
        this.backup = backup;
        this.check = check;
        this.tools = tools;
        this.timeout = timeout;
    }

    /** Asks the operator to type {@code database}; true when they did. */
    @FunctionalInterface
    public interface Confirmation {
        /** --yes: given before anything is shown, so what waited for it can start at once. */
        Confirmation GIVEN = new Confirmation() {
            @Override
            public boolean confirm(String database, String whatHappens) {
                return true;
            }

            @Override
            public boolean given() {
                return true;
            }
        };

        boolean confirm(String database, String whatHappens);

        /** Whether {@link #confirm} says yes to anything without asking. */
        default boolean given() {
            return false;
        }
    }

    /** {@code withRoles}: first create the roles, memberships and settings the server lacks, from the globals file. */
    public record Request(Resolver.Resolved backup, String into, boolean clean, int jobs, boolean continueOnError,
            Confirmation confirmation, boolean withRoles) {
        public Request(Resolver.Resolved backup, String into, boolean clean, int jobs, boolean continueOnError,
                Confirmation confirmation) {
            this(backup, into, clean, jobs, continueOnError, confirmation, false);
        }
    }

    /** {@code failed}: objects pg_restore could not create (only with continue-on-error); {@code notes}: properties not applied. */
    public record Result(String database, Path file, Optional<Path> safetyBackup, Map<String, Long> expected,
            Map<String, Long> restored, List<String> differences, List<String> failed, List<String> notes,
            Duration duration, Optional<Roles.Applied> roles) {
    }

    /** Refuses, before anything is touched, a file that no longer matches its manifest's sha256. */
    public static void checkIntegrity(Path file, io.backstop.catalog.Manifest manifest) {
        PgRestore.checkIntegrity(file, manifest);
    }

    public Result run(Target target, Request request) {
        long started = System.nanoTime();
        Path file = request.backup().file();
        String into = request.into();
        PgRestore.checkIntegrity(file, request.backup().manifest());
        DatabaseProperties properties = DatabaseProperties.read(tools, reader, file, timeout);
        Database db = new Database(target);
        boolean exists = PgRestore.exists(db, into);
        long relations = exists ? PgRestore.userRelations(db, into) : 0;
        if (relations > 0 && !request.clean()) {
            throw new BackstopException(ExitCode.USAGE, "database " + into + " is not empty (" + relations
                    + " relations); nothing was changed. Restore into a new database name, or pass --clean to replace"
                    + " it (a safety backup of it is taken first)");
        }
        String what = (exists ? (relations > 0 ? "REPLACE the " + relations + " relations of existing database "
                : "restore into existing empty database ") : "create database ") + into + " from " + file.getFileName();
        Path globals = io.backstop.catalog.BackupLayout.globalsOf(file);
        if (request.withRoles() && !java.nio.file.Files.isRegularFile(globals)) {
            io.backstop.catalog.Manifest.Globals g = request.backup().manifest().globals();
            throw new BackstopException(ExitCode.BAD_BACKUP, "--with-roles: no globals file beside " + file.getFileName()
                    + " (" + (g == null ? "the backup was taken before Backstop took globals with each dump"
                    : g.problem() != null ? "it could not be taken: " + g.problem() : globals.getFileName() + " is gone")
                    + "); nothing was changed. Restore a newer backup with --with-roles, or create the roles by hand");
        }
        if (!request.confirmation().confirm(into, what + (request.withRoles() ? ", after creating the roles this server"
                + " lacks from " + globals.getFileName() : ""))) {
            throw new BackstopException(ExitCode.USAGE, "not confirmed; nothing was changed");
        }
        Optional<Roles.Applied> roles = request.withRoles() ? Optional.of(Roles.apply(db, reader, globals))
                : Optional.empty();
        Optional<Path> safety = Optional.empty();
        if (relations > 0) {
            Target current = new Target(target.name(), target.host(), target.port(), into, target.user(),
                    target.password(), target.sslmode(), target.connectTimeout());
            BackupResult saved = backup.run(current, Backup.Request.safety("pre-restore", Duration.ofMinutes(10)),
                    Progress.NONE);
            safety = Optional.of(saved.file());
            // Said before the drop, where a terminal and the log both show it: a restore killed from here on
            // leaves the database dropped or half restored, and this is the way back.
            log.warn("restore: {} is replaced now; its previous contents are in the safety backup {}. Should this"
                    + " restore not finish, put them back with: backstop restore {} --into {} --clean", into,
                    saved.file(), saved.file(), into);
            // --clean keeps the replaced database's own properties: the safety backup describes them.
            properties = DatabaseProperties.read(tools, reader, saved.file(), timeout);
            PgRestore.drop(db, into);
        }
        if (!exists || relations > 0) {
            PgRestore.create(db, into, properties);
        }
        log.info("restore {} into {} started", file.getFileName(), into);
        List<RestoreFailures.Failure> failures;
        try {
            failures = new PgRestore(tools, reader, timeout).restore(target, db, file, into, request.jobs(),
                    request.continueOnError());
        } catch (BackstopException e) {
            throw new BackstopException(e.code(), e.getMessage() + MissingRoles.explain(e.getMessage(), globals,
                    request.withRoles()) + safety.map(s -> "\n    the database's previous contents are in the safety"
                    + " backup " + s).orElse(""), e);
        }
        List<String> notes = new java.util.ArrayList<>(PgRestore.applyProperties(db, into, properties));
        roles.ifPresent(r -> notes.addAll(Roles.applyDatabaseSettings(db, r, into)));
        roles.ifPresent(r -> r.failed().forEach(f -> notes.add("--with-roles: " + f)));
        failures.forEach(f -> {
            String why = MissingRoles.explain(f.describe(), globals, request.withRoles());
            if (!why.isEmpty()) {
                notes.add(why.strip());
            }
        });
        notes.forEach(n -> log.warn("restore into {}: {}", into, n));
        Map<String, Long> expected = request.backup().manifest().rowCounts();
        Map<String, Long> restored = PgRestore.count(db, into, expected);
        List<String> diffs = PgRestore.differences(expected, restored);
        if (into.equals(target.database())) {
            check.adoptIdentity(target); // the restored database is the target's now
        }
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        log.info("restore into {} finished: {} tables, {} differences from the manifest, {} failed objects, {}", into,
                restored.size(), diffs.size(), failures.size(), io.backstop.files.Sizes.seconds(took));
        return new Result(into, file, safety, expected, restored, diffs,
                failures.stream().map(RestoreFailures.Failure::describe).toList(), notes, took, roles);
    }
}
