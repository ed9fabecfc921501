package io.backstop.cli;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.app.Components;
import io.backstop.offsite.Fetched;
import io.backstop.offsite.Offsite;
import io.backstop.offsite.Remote;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;

/**
 * {@code offsite:REF} in restore and verify: the copy is downloaded (its sha256 checked as it
 * arrives), decrypted with the identity given now, and handed on as a local file whose manifest
 * the restore checks again (a drill's download is removed after it). Other references pass through
 * unchanged.
 */
final class OffsiteReference {
    static final String PREFIX = "offsite:";

    private OffsiteReference() {
    }

    /** For a restore: an offsite copy is downloaded into {@code <target>/offsite/}, where it stays. */
    static String localize(Components main, String target, String backup, Optional<Path> identity, PrintWriter out) {
        if (backup == null || !backup.startsWith(PREFIX)) {
            return backup;
        }
        Offsite offsite = offsite(main, backup);
        Remote copy = announce(offsite, target, backup, out);
        return offsite.fetch(target, copy, identity).toString();
    }

    /** For a drill: an offsite copy is downloaded for it alone, and removed when the result is closed. */
    static Local forDrill(Components main, String target, String backup, Optional<Path> identity, PrintWriter out) {
        if (backup == null || !backup.startsWith(PREFIX)) {
            return new Local(backup, null, null);
        }
        Offsite offsite = offsite(main, backup);
        Remote copy = announce(offsite, target, backup, out);
        Fetched fetched = offsite.fetchForDrill(target, copy, identity);
        return new Local(fetched.file().toString(), fetched, copy.key());
    }

    /**
     * The reference to resolve and, for an offsite copy, its key (what to call it once its download is
     * gone); closing removes the download, if one was made for it.
     */
    record Local(String reference, Fetched download, String key) implements AutoCloseable {
        @Override
        public void close() {
            if (download != null) {
                download.close();
            }
        }
    }

    private static Offsite offsite(Components main, String backup) {
        return main.offsite().orElseThrow(() -> new BackstopException(ExitCode.USAGE, backup
                + ": no offsite store is configured; set offsite.url (BACKSTOP_OFFSITE_URL), the endpoint and the"
                + " keys of the bucket that holds the copies"));
    }

    private static Remote announce(Offsite offsite, String target, String backup, PrintWriter out) {
        Remote copy = offsite.choose(target, backup.substring(PREFIX.length()));
        out.printf("offsite copy %s (%s, %s): downloading%s%n", copy.key(), copy.tier().dir(),
                io.backstop.files.Sizes.bytes(copy.size()), copy.encrypted() ? " and decrypting" : "");
        out.flush();
        return copy;
    }
}
