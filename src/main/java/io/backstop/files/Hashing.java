package io.backstop.files;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/** The sha256 of a file, as manifests record it: by a native command for large files, the JDK's digest for small ones. */
public final class Hashing {
    private Hashing() {
    }

    /**
     * Hex sha256 of a file, by the fastest hashing command here ({@link #hashCommand}): the daemon's
     * C1-only JVM cannot use the CPU's SHA instructions (7 ms per MB there: 0.8 s after every 135 MB
     * backup, on the critical path); the JDK's own digest where no command is found.
     */
    public static String sha256(Path file) {
        try {
            if (Files.size(file) < IN_PROCESS_BELOW) {
                return javaSha256(file); // a process costs more than hashing a small file here
            }
        } catch (IOException e) {
            // the command below reports it as it reads
        }
        List<String> command = hashCommand(Optional.of(file));
        if (command != null) {
            try {
                Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
                p.getOutputStream().close();
                Optional<String> hex = hashResult(p);
                if (hex.isPresent()) {
                    return hex.get();
                }
            } catch (IOException e) {
                // fall back to the JDK's digest
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BackstopException(ExitCode.INTERRUPTED, "interrupted while hashing " + file, e);
            }
        }
        return javaSha256(file);
    }

    /** Below this size the JDK's digest is quicker than starting a command, even under C1 (about 7 ms a MiB). */
    private static final long IN_PROCESS_BELOW = 1 << 20;
    public static final Path OPENSSL = Path.of("/usr/bin/openssl");
    public static final Path SHA256SUM = Path.of("/usr/bin/sha256sum");

    /**
     * The command that prints the sha256 of {@code file} (of its standard input when empty) as 64 hex
     * digits first: OpenSSL's where it is installed (it uses the CPU's SHA instructions: 2.1 GB/s
     * on this machine, where coreutils' sha256sum, built without OpenSSL on Debian, makes 0.56 GB/s),
     * else coreutils'; null when neither is here.
     */
    public static List<String> hashCommand(Optional<Path> file) {
        List<String> command = new ArrayList<>();
        if (Files.isExecutable(OPENSSL)) {
            command.addAll(List.of(OPENSSL.toString(), "dgst", "-sha256", "-r"));
        } else if (Files.isExecutable(SHA256SUM)) {
            command.addAll(List.of(SHA256SUM.toString(), "--"));
        } else {
            return null;
        }
        // OpenSSL has no "--": a path given absolute can never be taken for an option.
        file.ifPresent(f -> command.add(f.toAbsolutePath().toString()));
        return command;
    }

    /** The hex digest a finished {@link #hashCommand} printed; empty if it failed or printed something else. */
    public static Optional<String> hashResult(Process p) throws IOException, InterruptedException {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        return p.waitFor() == 0 && out.length() >= 64 && out.substring(0, 64).matches("[0-9a-f]{64}")
                ? Optional.of(out.substring(0, 64)) : Optional.empty();
    }

    public static String javaSha256(Path file) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            FileBytes.read(file, digest::update);
            return HexFormat.of().formatHex(digest.digest());
        } catch (IOException e) {
            throw Durable.storageError("cannot read " + file, e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is a required JDK algorithm", e);
        }
    }

}
