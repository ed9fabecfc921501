package io.backstop.restore;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads {@code pg_restore --verbose}'s stderr as it streams: which archive entry failed
 * ("from TOC entry 3202; ..."), the server's message with its detail lines, the command, and
 * a hint for the causes people meet on restore day. Progress chatter is consumed here so the
 * error tail stays readable.
 */
public final class RestoreFailures implements Predicate<String> {
    private static final Pattern TOC_ENTRY = Pattern.compile("^pg_restore: from TOC entry (\\d+);");
    private static final Pattern ERROR = Pattern.compile("^pg_restore: error: (.*)$");
    private static final Pattern PROGRESS = Pattern.compile(
            "^pg_restore: (creating|processing|connecting|executing|launching|finished|entering|setting|dropping"
                    + "|implied|restoring|disabling|enabling|reconnecting|while PROCESSING TOC|skipping|"
                    + "processing item|processing missed item|reducing dependencies|transferring dependency)\\b.*");
    private static final Pattern CREATING = Pattern.compile("^pg_restore: (?:creating|processing data for) (.+)$");

    /** One object the server refused. */
    public record Failure(String object, String message, String command, Optional<String> hint) {
        public String describe() {
            return object + ": " + message + hint.map(h -> "\n      hint: " + h).orElse("");
        }
    }

    private final ArchiveToc toc;
    private final List<Failure> failures = new ArrayList<>();
    private String entry;
    private String lastObject;
    private StringBuilder message;
    private StringBuilder command;

    RestoreFailures(ArchiveToc toc) {
        this.toc = toc;
    }

    @Override
    public synchronized boolean test(String line) {
        Matcher m;
        if ((m = TOC_ENTRY.matcher(line)).find()) {
            finish();
            entry = toc.entry(Integer.parseInt(m.group(1))).map(ArchiveToc.Entry::describe)
                    .orElse("archive entry " + m.group(1));
            return true;
        }
        if ((m = ERROR.matcher(line)).matches()) {
            finish();
            message = new StringBuilder(m.group(1).replaceFirst("^could not execute query: ", ""));
            return false;
        }
        if (message != null) {
            if (line.startsWith("Command was: ")) {
                command = new StringBuilder(line.substring("Command was: ".length()));
            } else if (line.isBlank()) {
                finish();
            } else if (command != null) {
                command.append(' ').append(line.strip());
            } else if (line.startsWith("pg_restore: ")) {
                finish();
                return consume(line);
            } else if (line.strip().equals("^") || line.startsWith("LINE ") || line.startsWith("QUERY:")) {
                return false; // the caret under the query text, and the query: noise in one line
            } else {
                message.append("; ").append(line.strip());
            }
            return false;
        }
        return consume(line);
    }

    private boolean consume(String line) {
        Matcher c = CREATING.matcher(line);
        if (c.matches()) {
            lastObject = c.group(1);
            entry = null;
        }
        return PROGRESS.matcher(line).matches();
    }

    private void finish() {
        if (message == null) {
            return;
        }
        String object = entry != null ? entry : lastObject != null ? lastObject : "the restore";
        String msg = message.toString().replaceAll("\\s+", " ").strip();
        String cmd = command == null ? "" : command.toString().strip();
        failures.add(new Failure(object, msg, cmd, hint(msg, cmd)));
        message = null;
        command = null;
        entry = null;
    }

    synchronized List<Failure> failures() {
        finish();
        return List.copyOf(failures);
    }

    /** Hints for the failures that have a known cause and a known way on. */
    static Optional<String> hint(String message, String command) {
        String m = message.toLowerCase(java.util.Locale.ROOT);
        String c = command.toUpperCase(java.util.Locale.ROOT);
        boolean missing = m.contains("does not exist");
        if (missing && (m.contains("during inlining") || m.contains("sql function") || c.startsWith("CREATE INDEX")
                || c.contains("CHECK (") || c.startsWith("ALTER TABLE") && c.contains("ADD CONSTRAINT"))) {
            return Optional.of("a function used in this expression refers to another object without its schema, and"
                    + " pg_restore runs with an empty search_path. Qualify the reference inside the function (e.g."
                    + " public.inner_fn(...)) or pin its path (ALTER FUNCTION ... SET search_path = public), then take"
                    + " a new backup. --continue-on-error restores everything else now");
        }
        if (m.contains("role") && missing) {
            return Optional.of("create the role on this server first: restore with --with-roles creates the roles"
                    + " this server lacks from the globals file Backstop took beside the backup");
        }
        if (m.contains("extension") && (m.contains("not available") || m.contains("control file"))) {
            return Optional.of("install the extension's package on this server (same major version), then restore"
                    + " again");
        }
        if (m.contains("already exists")) {
            return Optional.of("the database was not empty: restore into a new name, or use --clean");
        }
        if (m.contains("permission denied") || m.contains("must be owner") || m.contains("must be superuser")) {
            return Optional.of("restore as a superuser or as the owner of the objects");
        }
        return Optional.empty();
    }
}
