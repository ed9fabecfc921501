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
 * pg_restore failed) never blocks the writer, which then only writes the file. The chunks are a
 * fixed set of buffers passed back and forth, not a copy per write: a backup of any size leaves
 * the daemon's heap as small as it found it (a copy per megabyte grew it by 16 MB for a 600 MB
 * dump, resident long after).
 */
final class Tee {
    /** The largest write: bigger ones are split. */
    static final int CHUNK = 256 * 1024;
    private static final int DEPTH = 8;
    private static final Chunk END = new Chunk(new byte[0], 0);

    private record Chunk(byte[] data, int length) {
    }

    private final BlockingQueue<Chunk> chunks = new ArrayBlockingQueue<>(DEPTH + 1);
    private final BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(DEPTH);
    private int allocated;
    private volatile boolean readerGone;

    /** Writer side: a copy of {@code b[0..n)}. */
    void write(byte[] b, int n) throws InterruptedException {
        for (int off = 0; off < n && !readerGone; off += CHUNK) {
            int len = Math.min(CHUNK, n - off);
            byte[] buffer = buffer();
            if (buffer == null) {
                return;
            }
            System.arraycopy(b, off, buffer, 0, len);
            put(new Chunk(buffer, len));
        }
    }

    /** Writer side: no more bytes (also after a failure: the reader then sees a truncated archive). */
    void end() {
        try {
            put(END);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            readerGone = true;
        }
    }

    private byte[] buffer() throws InterruptedException {
        byte[] buffer = free.poll();
        if (buffer == null && allocated < DEPTH) {
            allocated++;
            return new byte[CHUNK];
        }
        while (buffer == null && !readerGone) {
            buffer = free.poll(100, TimeUnit.MILLISECONDS);
        }
        return buffer;
    }

    private void put(Chunk chunk) throws InterruptedException {
        while (!readerGone && !chunks.offer(chunk, 100, TimeUnit.MILLISECONDS)) {
            // waiting for the reader
        }
    }

    /** Reader side: feeds {@code out} until the writer ends. */
    void drainTo(OutputStream out) throws IOException {
        try {
            while (true) {
                Chunk chunk = chunks.take();
                if (chunk == END) {
                    return;
                }
                out.write(chunk.data(), 0, chunk.length());
                free.offer(chunk.data());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            readerGone = true;
            chunks.clear();
        }
    }
}
