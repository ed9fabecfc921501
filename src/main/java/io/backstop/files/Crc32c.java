package io.backstop.files;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Base64;
import java.util.zip.CRC32C;

/** CRC32C in the form object stores take it; {@code offsite.Checksum} sends it, encryption computes it as it writes. */
public final class Crc32c {
    private Crc32c() {
    }

    /** A CRC32C as a store takes it: the base64 of its four big-endian bytes. */
    public static String base64(java.util.zip.Checksum crc32c) {
        return Base64.getEncoder().encodeToString(ByteBuffer.allocate(4).putInt((int) crc32c.getValue()).array());
    }

    /** The CRC32C of a whole file, base64. */
    public static String of(Path file) throws IOException {
        CRC32C crc = new CRC32C();
        FileBytes.read(file, crc::update);
        return base64(crc);
    }
}
