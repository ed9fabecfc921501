package io.backstop.cli;

import io.backstop.Background;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.app.Invocation;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code backstop guard-server} (started by the launcher, not by hand): answers {@code backstop
 * guard} calls for one user from a warm JVM, so a hook that runs before every shell command costs
 * milliseconds instead of a JVM start. It listens on a free loopback port, writes the port, a
 * random secret and its pid to a 0600 state file in a 0700 directory of the user's own, answers
 * only requests that carry the secret, and exits after {@code --idle} without a request or when
 * the jar it was started from changes. The launcher checks that the pid is its user's and names
 * this command before it sends anything, and falls back to a JVM of its own otherwise.
 *
 * <p>Request: secret, working directory, {@code KEY=VALUE} lines for the guard's variables, the
 * arguments, standard input, each a length line (bytes) and the bytes. Answer: the exit code,
 * standard output, NUL, standard error, NUL.
 */
@Command(name = "guard-server", hidden = true, description = "Serve guard calls from a warm JVM (the launcher starts it).")
public final class GuardServerCommand implements Callable<Integer> {
    /** The variables a guard call may read; nothing else of the client's environment is taken. */
    private static final Set<String> PASSED = Set.of("BACKSTOP_CONFIG", "BACKSTOP_URL", "BACKSTOP_HTTP_TOKEN",
            "BACKSTOP_HTTP_TOKEN_FILE", "BACKSTOP_GUARD_CWD");
    private static final int MAX_REQUEST = 8 << 20;
    /** Built once per worker: picocli's model of every command is most of a call's cost otherwise. */
    private static final ThreadLocal<picocli.CommandLine> COMMAND_LINE = ThreadLocal.withInitial(() -> CommandLines.configured());

    @Option(names = "--state", required = true, paramLabel = "FILE", description = "Where the port, secret and pid go.")
    Path state;

    @Option(names = "--idle", defaultValue = "30m", paramLabel = "DURATION", description = "Exit after this long unused.")
    String idle;

    @Option(names = "--jar", paramLabel = "FILE", description = "Exit when this jar changes (a new build).")
    Path jar;

    @Override
    public Integer call() throws IOException {
        Duration idleFor = Duration.parse("PT" + idle.toUpperCase(java.util.Locale.ROOT));
        Path dir = state.toAbsolutePath().getParent();
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        if (!Files.getOwner(dir).getName().equals(System.getProperty("user.name"))
                || Files.getPosixFilePermissions(dir).stream().anyMatch(p -> p.name().startsWith("GROUP")
                        || p.name().startsWith("OTHERS"))) {
            throw new BackstopException(ExitCode.USAGE, dir + " must be this user's own directory, mode 0700");
        }
        try (FileChannel lockChannel = FileChannel.open(dir.resolve(state.getFileName() + ".lock"),
                StandardOpenOption.CREATE, StandardOpenOption.WRITE); FileLock lock = lockChannel.tryLock()) {
            if (lock == null) {
                return ExitCode.OK.status(); // another server of this user is starting or running
            }
            long jarTime = jar == null ? 0 : Files.getLastModifiedTime(jar).toMillis();
            byte[] secret = new byte[24];
            new SecureRandom().nextBytes(secret);
            String secretHex = HexFormat.of().formatHex(secret);
            ExecutorService workers = Executors.newFixedThreadPool(2, Background.threads("guard-server-worker"));
            try (ServerSocket server = new ServerSocket(0, 64, InetAddress.getLoopbackAddress())) {
                Path tmp = dir.resolve("." + state.getFileName() + "." + ProcessHandle.current().pid());
                Files.deleteIfExists(tmp);
                Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.writeString(tmp, server.getLocalPort() + " " + secretHex + " " + ProcessHandle.current().pid() + "\n");
                Files.move(tmp, state, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                // Wakes every second or two to see whether it is idle or its jar was rebuilt.
                server.setSoTimeout((int) Math.max(100, Math.min(2_000, idleFor.toMillis())));
                long lastCall = System.nanoTime();
                while ((jar == null || !Files.exists(jar) || Files.getLastModifiedTime(jar).toMillis() == jarTime)
                        && System.nanoTime() - lastCall < idleFor.toNanos()) {
                    Socket client;
                    try {
                        client = server.accept();
                    } catch (SocketTimeoutException e) {
                        continue;
                    }
                    lastCall = System.nanoTime();
                    workers.execute(() -> answer(client, secretHex));
                }
            } finally {
                workers.shutdown();
                Files.deleteIfExists(state);
            }
        }
        return ExitCode.OK.status();
    }

    private static void answer(Socket client, String secret) {
        try (client) {
            client.setSoTimeout(10_000);
            DataInputStream in = new DataInputStream(new BufferedInputStream(client.getInputStream()));
            if (!MessageDigest.isEqual(field(in).getBytes(StandardCharsets.UTF_8), secret.getBytes(StandardCharsets.UTF_8))) {
                return; // not our client: no answer at all
            }
            Map<String, String> env = new HashMap<>();
            env.put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
            env.put("BACKSTOP_GUARD_CWD", field(in));
            int vars = Integer.parseInt(field(in));
            for (int i = 0; i < vars; i++) {
                String kv = field(in);
                int eq = kv.indexOf('=');
                if (eq > 0 && PASSED.contains(kv.substring(0, eq))) {
                    env.put(kv.substring(0, eq), kv.substring(eq + 1));
                }
            }
            int argc = Integer.parseInt(field(in));
            List<String> args = new ArrayList<>(List.of("guard"));
            for (int i = 0; i < argc; i++) {
                args.add(field(in));
            }
            byte[] stdin = bytes(in);
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int status = CommandLines.run(COMMAND_LINE.get(), args.toArray(String[]::new), new PrintWriter(out, true),
                    new PrintWriter(err, true), new Invocation(env, Clock.systemUTC(), new ByteArrayInputStream(stdin)));
            OutputStream reply = client.getOutputStream();
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            b.write((status + "\n").getBytes(StandardCharsets.UTF_8));
            b.write(out.toString().replace('\0', ' ').getBytes(StandardCharsets.UTF_8));
            b.write(0);
            b.write(err.toString().replace('\0', ' ').getBytes(StandardCharsets.UTF_8));
            b.write(0);
            reply.write(b.toByteArray());
            reply.flush();
        } catch (IOException | RuntimeException e) {
            // the client falls back to a JVM of its own when it gets no answer
        }
    }

    /** A length line, then that many bytes. */
    private static byte[] bytes(DataInputStream in) throws IOException {
        StringBuilder n = new StringBuilder();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0 || n.length() > 10) {
                throw new IOException("bad request");
            }
            n.append((char) c);
        }
        int length = Integer.parseInt(n.toString().strip());
        if (length < 0 || length > MAX_REQUEST) {
            throw new IOException("bad request");
        }
        byte[] data = new byte[length];
        in.readFully(data);
        return data;
    }

    private static String field(DataInputStream in) throws IOException {
        return new String(bytes(in), StandardCharsets.UTF_8);
    }
}
