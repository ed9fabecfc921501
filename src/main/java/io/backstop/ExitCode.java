package io.backstop;

/**
 * Process exit codes. They are part of the command-line contract (scripts gate migrations on
 * them), so a value is never reused for another meaning.
 */
public enum ExitCode {
    OK(0, "success"),
    CHECK_FAILED(1, "a row-count check found a drop (data loss alarm)"),
    USAGE(2, "bad arguments or configuration"),
    DATABASE_UNREACHABLE(3, "the database could not be reached or refused the login"),
    DUMP_FAILED(4, "pg_dump, pg_restore or verification failed"),
    STORAGE(5, "the backup directory is not writable or the disk is full"),
    BUSY(6, "another backup of the same target holds the lock"),
    TOOLS(7, "pg_dump/pg_restore missing or older than the server"),
    BAD_BACKUP(8, "the named backup is missing, foreign or corrupt"),
    INTERRUPTED(9, "stopped by a signal before finishing"),
    GUARD_ASK(10, "guard: the command is destructive and needs a person's approval"),
    GUARD_BLOCK(11, "guard: the command is blocked"),
    OFFSITE(12, "the offsite store could not be reached, refused the credentials or the request, or lacks the bucket"),
    INCOMPLETE(13, "recover put the rows back, but objects it names (views that depended on a dropped table) could not be recreated"),
    NOTIFY(14, "notify --test: a channel could not deliver its test message"),
    INTERNAL(70, "unexpected internal error (a bug: please report it with --debug output)");

    private final int status;
    private final String meaning;

    ExitCode(int status, String meaning) {
        this.status = status;
        this.meaning = meaning;
    }

    public int status() {
        return status;
    }

    public String meaning() {
        return meaning;
    }
}
