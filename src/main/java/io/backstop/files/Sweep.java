package io.backstop.files;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way Backstop removes what an interrupted run left behind: each entry of a directory is judged by a
 * rule (left by a process that is gone, or not), and a leftover is removed and logged with the reason.
 */
public final class Sweep {
    private static final Logger log = LoggerFactory.getLogger(Sweep.class);

    /** Why {@code entry} is a leftover to remove, or null to leave it be. */
    @FunctionalInterface
    public interface Rule {
        String leftover(Path entry) throws IOException;
    }

    /** Removes a leftover; false when it turned out to be in use after all (it is left be). */
    @FunctionalInterface
    public interface Removal {
        boolean remove(Path entry) throws IOException;
    }

    private Sweep() {
    }

    /** {@link #run(Path, String, Rule, Removal)} of every entry, deleting each leftover (a directory with its content). */
    public static List<Path> run(Path dir, Rule rule) {
        return run(dir, "*", rule, Sweep::deleteTree);
    }

    /** {@link #run(Path, String, Rule, Removal)} of the entries matching {@code glob}, deleting each leftover. */
    public static List<Path> run(Path dir, String glob, Rule rule) {
        return run(dir, glob, rule, Sweep::deleteTree);
    }

    /**
     * Judges every entry of {@code dir} matching {@code glob} and removes the leftovers; returns what was removed.
     * A directory that does not exist has nothing to sweep; one that cannot be read is a storage error.
     */
    public static List<Path> run(Path dir, String glob, Rule rule, Removal removal) {
        List<Path> removed = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return removed;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, glob)) {
            for (Path entry : entries) {
                try {
                    String why = rule.leftover(entry);
                    if (why != null && removal.remove(entry)) {
                        log.info("removed {} ({})", entry, why);
                        removed.add(entry);
                    }
                } catch (NoSuchFileException gone) {
                    // removed meanwhile by its owner or another sweep
                }
            }
        } catch (IOException e) {
            throw Durable.storageError("cannot sweep " + dir, e);
        }
        return removed;
    }

    /** Deletes a file, or a directory with everything in it; true when it is gone. */
    public static boolean deleteTree(Path path) throws IOException {
        if (!Files.isDirectory(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            Files.deleteIfExists(path);
            return true;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
        return true;
    }
}
