package io.backstop.cli;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.Main;
import io.backstop.offsite.Offsite;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;

/**
 * {@code offsite:REF} in restore and verify: the copy is downloaded (its sha256 checked as it
 * arrives), decrypted with the identity given now, and handed on as a local file whose manifest
 * the restore checks again. Other references pass through unchanged.
 */
final class OffsiteReference {
    static final String PREFIX = "offsite:";

    private OffsiteReference() {
    }

    static String localize(Main main, String target, String backup, Optional<Path> identity, PrintWriter out) {
        if (backup == null || !backup.startsWith(PREFIX)) {
            return backup;
        }
        Offsite offsite = main.offsite().orElseThrow(() -> new BackstopException(ExitCode.USAGE, backup
                + ": no offsite store is configured; set offsite.url (BACKSTOP_OFFSITE_URL), the endpoint and the"
                + " keys of the bucket that holds the copies"));
        Offsite.Remote copy = offsite.choose(target, backup.substring(PREFIX.length()));
        out.printf("offsite copy %s (%s, %s): downloading%s%n", copy.key(), copy.tier().dir(),
                io.backstop.backup.Sizes.bytes(copy.size()), copy.encrypted() ? " and decrypting" : "");
        Path file = offsite.fetch(target, copy, identity);
        return file.toString();
    }
}
