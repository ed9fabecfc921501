package io.backstop.backup;

import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Hands the archive's bytes, as pg_dump writes them, to the verifier's pg_restore while the same
 * bytes are compressed to the file: the archive is read in full exactly once more, beside the dump.
 * Bounded, so a slow reader slows the dump rather than filling memory; a reader that stops (its
 * pg_restore failed) never blocks the writer, which then only writes the file.
 */
final class Tee {
    private static final byte[] END = new byte[0];
    private final BlockingQueue<byte[]> chunks = new ArrayBlockingQueue<>(8);
    private volatile boolean readerGone;

    /** Writer side: a copy of {@code b[0..n)}. */
    void write(byte[] b, int n) throws InterruptedException {
        byte[] copy = java.util.Arrays.copyOf(b, n);
        while (!readerGone && !chunks.offer(copy, 100, TimeUnit.MILLISECONDS)) {
            // waiting for the reader
        }
    }

    /** Writer side: no more bytes (also after a failure: the reader then sees a truncated archive). */
    void end() {
        try {
            while (!readerGone && !chunks.offer(END, 100, TimeUnit.MILLISECONDS)) {
                // waiting for the reader
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            readerGone = true;
        }
    }

    /** Reader side: feeds {@code out} until the writer ends. */
    void drainTo(OutputStream out) throws IOException {
        try {
            while (true) {
                byte[] chunk = chunks.take();
                if (chunk == END) {
                    return;
                }
                out.write(chunk);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            readerGone = true;
            chunks.clear();
        }
    }
}
