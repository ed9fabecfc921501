package io.backstop.files;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Optional;

/**
 * Writes to a file and hands the same bytes to a hashing command on a pipe ({@link
 * Hashing#hashCommand}: OpenSSL's, else coreutils'), so the file's sha256 is known when the last
 * byte is written instead of after a second read of the file on the backup's critical path (0.27 s
 * for a 141 MB backup with coreutils' sha256sum). The hash only ever follows the file: if the
 * hashing process is missing or goes away, the file is still written and {@link #sha256()} is
 * empty, and the caller hashes the finished file as before.
 */
public final class DigestingOutputStream extends FilterOutputStream {
    private final Process hasher;
    private OutputStream pipe;
    private String sha256;

    public DigestingOutputStream(OutputStream file) {
        super(file);
        this.hasher = start();
        this.pipe = hasher == null ? null : hasher.getOutputStream();
    }

    private static Process start() {
        java.util.List<String> command = Hashing.hashCommand(Optional.empty());
        if (command == null) {
            return null;
        }
        try {
            return new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        try {
            out.write(b, off, len);
        } catch (IOException e) {
            abandon(); // the file is not what was written: no digest claims it is
            throw e;
        }
        if (pipe != null) {
            try {
                pipe.write(b, off, len);
            } catch (IOException e) {
                abandon();
            }
        }
    }

    @Override
    public void close() throws IOException {
        try {
            super.close();
        } catch (IOException e) {
            abandon();
            throw e;
        } finally {
            finishHash();
        }
    }

    /** The hex sha256 of everything written, once closed; empty when the hash could not follow. */
    public Optional<String> sha256() {
        return Optional.ofNullable(sha256);
    }

    private void finishHash() {
        if (pipe == null) {
            return;
        }
        try {
            pipe.close();
            pipe = null;
            sha256 = Hashing.hashResult(hasher).orElse(null);
        } catch (IOException e) {
            abandon();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            abandon();
        }
    }

    private void abandon() {
        pipe = null;
        if (hasher != null) {
            hasher.destroyForcibly();
        }
    }
}
