package io.backstop.files;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Consumer;

/** A file's bytes handed to a checksum or digest a MiB at a time, from a direct buffer (no copy into the heap). */
public final class FileBytes {
    private FileBytes() {
    }

    /** Every byte of {@code file}, to its end. */
    public static void read(Path file, Consumer<ByteBuffer> sink) throws IOException {
        read(file, 0, Long.MAX_VALUE, sink);
    }

    /**
     * {@code length} bytes of {@code file} from {@code offset}; with a finite length, a file that ends before
     * them is an error (a part of an upload must be whole).
     */
    public static void read(Path file, long offset, long length, Consumer<ByteBuffer> sink) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
            long position = offset;
            long end = length == Long.MAX_VALUE ? Long.MAX_VALUE : offset + length;
            while (position < end) {
                buffer.clear().limit((int) Math.min(buffer.capacity(), end - position));
                int n = channel.read(buffer, position);
                if (n < 0) {
                    if (end == Long.MAX_VALUE) {
                        return;
                    }
                    throw new EOFException(file + " ended at byte " + position + ", before " + end);
                }
                buffer.flip();
                sink.accept(buffer);
                position += n;
            }
        }
    }
}
