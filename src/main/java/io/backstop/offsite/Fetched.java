package io.backstop.offsite;

import java.nio.channels.FileChannel;
import java.nio.file.Path;

/** A copy downloaded for one drill; closing it removes the copy, its manifest and their directory. */
public final class Fetched implements AutoCloseable {
    private final Path file;
    private final Path dir;
    private final FileChannel lock;

    Fetched(Path file, Path dir, FileChannel lock) {
        this.file = file;
        this.dir = dir;
        this.lock = lock;
    }

    public Path file() {
        return file;
    }

    @Override
    public void close() {
        Downloads.removeDrillDir(dir, lock);
    }
}
