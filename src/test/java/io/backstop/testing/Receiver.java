package io.backstop.testing;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real HTTP receiver on 127.0.0.1 that records every request. A path may answer with an error a
 * number of times first, or hold each request until the test releases it (a slow receiver).
 */
public final class Receiver implements AutoCloseable {
    public record Request(String method, String path, String query, Map<String, List<String>> headers, String body) {
        public String header(String name) {
            return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name)).findFirst()
                    .map(e -> e.getValue().get(0)).orElse(null);
        }
    }

    private final HttpServer server;
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final Map<String, AtomicInteger> failures = new ConcurrentHashMap<>();
    private final Map<String, CountDownLatch> holds = new ConcurrentHashMap<>();

    public Receiver() {
        this(0);
    }

    /** On {@code port} (0: a free one). */
    public Receiver(int port) {
        try {
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/", ex -> {
            try (ex) {
                String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                String path = ex.getRequestURI().getPath();
                CountDownLatch hold = holds.get(prefix(path));
                if (hold != null && !hold.await(2, TimeUnit.MINUTES)) {
                    throw new IOException("held too long");
                }
                AtomicInteger fail = failures.get(prefix(path));
                boolean failNow = fail != null && fail.getAndDecrement() > 0;
                if (!failNow) {
                    requests.add(new Request(ex.getRequestMethod(), path, ex.getRequestURI().getRawQuery(),
                            Map.copyOf(ex.getRequestHeaders()), body));
                }
                byte[] answer = (failNow ? "boom" : "ok").getBytes(StandardCharsets.UTF_8);
                ex.sendResponseHeaders(failNow ? 500 : 200, answer.length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(answer);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        server.start();
    }

    private static String prefix(String path) {
        int second = path.indexOf('/', 1);
        return second < 0 ? path : path.substring(0, second);
    }

    /** Requests under {@code /first-segment} answer 500 this many times before they are taken. */
    public void failFirst(String firstSegment, int times) {
        failures.put(firstSegment, new AtomicInteger(times));
    }

    /** Requests under {@code /first-segment} wait until the returned latch is counted down. */
    public CountDownLatch hold(String firstSegment) {
        CountDownLatch latch = new CountDownLatch(1);
        holds.put(firstSegment, latch);
        return latch;
    }

    /** A loopback port nothing listens on (a receiver that is down), free when this returns. */
    public static int unusedPort() {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public String url(String path) {
        return "http://127.0.0.1:" + port() + path;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** The requests taken (answered 200) under {@code /first-segment}, in order. */
    public List<Request> taken(String firstSegment) {
        return requests.stream().filter(r -> prefix(r.path()).equals(firstSegment)).toList();
    }

    public Request await(String firstSegment, Duration timeout, java.util.function.Predicate<Request> matching) {
        Request[] found = new Request[1];
        Fixtures.await("a request under " + firstSegment + " " + url(firstSegment), timeout, () -> {
            found[0] = taken(firstSegment).stream().filter(matching).findFirst().orElse(null);
            return found[0] != null;
        });
        return found[0];
    }

    @Override
    public void close() {
        holds.values().forEach(CountDownLatch::countDown);
        server.stop(0);
    }
}
