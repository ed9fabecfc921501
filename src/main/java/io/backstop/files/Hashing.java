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
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

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

    /**
     * The sha256 of each of {@code files}, keyed by the path given: by the hashing command ({@link #hashCommand})
     * over many files at once, in up to {@code processes} processes side by side (a replay's WAL segments: one
     * process start per few hundred files instead of one per file). A file the command did not answer for is
     * hashed by the JDK, which names it if it cannot be read.
     */
    public static Map<Path, String> sha256Each(List<Path> files, int processes) {
        Map<Path, String> hashes = new ConcurrentHashMap<>();
        if (hashCommand(Optional.empty()) != null && !files.isEmpty()) {
            int batches = Math.max(Math.max(1, processes), (files.size() + MAX_FILES_PER_COMMAND - 1) / MAX_FILES_PER_COMMAND);
            List<List<Path>> batch = new ArrayList<>();
            for (int i = 0; i < batches; i++) {
                batch.add(new ArrayList<>());
            }
            for (int i = 0; i < files.size(); i++) {
                batch.get(i % batches).add(files.get(i));
            }
            ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(processes, batches)),
                    io.backstop.Background.threads("sha256"));
            try {
                List<Future<?>> running = new ArrayList<>();
                for (List<Path> b : batch) {
                    if (!b.isEmpty()) {
                        running.add(pool.submit(() -> hashAll(b, hashes)));
                    }
                }
                for (Future<?> f : running) {
                    f.get();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BackstopException(ExitCode.INTERRUPTED, "interrupted while hashing " + files.size() + " files", e);
            } catch (ExecutionException e) {
                // the JDK's digest below hashes what the command did not
            } finally {
                pool.shutdownNow();
            }
        }
        for (Path f : files) {
            hashes.computeIfAbsent(f, Hashing::javaSha256);
        }
        return hashes;
    }

    /** Files per command line: far below the kernel's limit on arguments, for any path length. */
    private static final int MAX_FILES_PER_COMMAND = 256;

    /** One hashing command over {@code files}; each line it prints is a digest, then two characters, then the path. */
    private static void hashAll(List<Path> files, Map<Path, String> into) {
        List<String> command = hashCommand(Optional.empty());
        Map<String, Path> byName = new java.util.HashMap<>();
        for (Path f : files) {
            String absolute = f.toAbsolutePath().toString();
            command.add(absolute);
            byName.put(absolute, f);
        }
        Process p = null;
        try {
            p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            p.getOutputStream().close();
            try (java.io.BufferedReader r = new java.io.BufferedReader(
                    new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    Path f = line.length() > 66 ? byName.get(line.substring(66)) : null;
                    if (f != null && line.substring(0, 64).matches("[0-9a-f]{64}")) {
                        into.put(f, line.substring(0, 64));
                    }
                }
            }
            p.waitFor(); // a file it could not read has no line: the JDK's digest names it
        } catch (IOException e) {
            // the JDK's digest hashes these
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (p != null) {
                p.destroyForcibly(); // gone already, or hashing what nobody waits for any more
            }
        }
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
