package io.backstop.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.backstop.Background;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.backup.Backup;
import io.backstop.backup.BackupCycle;
import io.backstop.backup.Progress;
import io.backstop.config.Settings;
import io.backstop.schedule.Reporter;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's HTTP surface, on the JDK's own server: {@code GET /} (the status page),
 * {@code GET /health}, {@code GET /metrics} and {@code POST /backup?target=T}. Nothing else is served. GETs answer from memory; POST
 * needs {@code Authorization: Bearer <token>} (compared in constant time) and is off when no
 * token is configured.
 */
public final class HttpApi implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HttpApi.class);
    /** A request (line and headers) not read within this is dropped with its connection. */
    static final long REQUEST_READ_SECONDS = 5;
    static final long RESPONSE_WRITE_SECONDS = 30;
    /** Workers: each stalled client holds one until REQUEST_READ_SECONDS; the rest keep answering. */
    static final int MAX_WORKERS = 256;

    private final Settings settings;
    private final Health health;
    private final Metrics metrics;
    private final BackupCycle cycle;
    private final Reporter reporter;
    private final Consumer<String> afterBackup;
    private final Clock clock;
    private final StatusPage page;
    private final ObjectMapper json;
    private HttpServer server;
    private ExecutorService executor;

    public HttpApi(Settings settings, Health health, Metrics metrics, BackupCycle cycle, Reporter reporter,
            HealthState state, Clock clock, ObjectMapper json, Consumer<String> afterBackup) {
        this.page = new StatusPage(settings, state);
        this.afterBackup = afterBackup;
        this.settings = settings;
        this.health = health;
        this.metrics = metrics;
        this.cycle = cycle;
        this.reporter = reporter;
        this.clock = clock;
        this.json = json.copy().disable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT);
    }

    /** Starts listening; returns the bound port (useful with port 0). */
    public int start() {
        // Without TCP_NODELAY the JDK server's separate header and body writes meet delayed ACKs:
        // every response took 40 ms. Clients that send half a request and wait hold a worker while
        // the request is read, so requests must be read within a bound (then the connection is
        // closed), and there are enough workers that a few dozen such clients cannot starve
        // /health: Docker restarts a sidecar whose health check times out. All are read once,
        // when the server's configuration class loads.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        System.setProperty("sun.net.httpserver.maxReqTime", Long.toString(REQUEST_READ_SECONDS));
        System.setProperty("sun.net.httpserver.maxRspTime", Long.toString(RESPONSE_WRITE_SECONDS));
        System.setProperty("sun.net.httpserver.timerMillis", "250");
        try {
            server = HttpServer.create(new InetSocketAddress(settings.http().bind(), settings.http().port()), 256);
        } catch (IOException e) {
            throw new BackstopException(ExitCode.USAGE, "backstop.http: cannot listen on " + settings.http().bind() + ":"
                    + settings.http().port() + " (" + e.getMessage() + "); choose a free port with BACKSTOP_HTTP_PORT", e);
        }
        // Threads start on demand and end after 30 s idle: an idle daemon holds none.
        ThreadPoolExecutor pool = new ThreadPoolExecutor(MAX_WORKERS, MAX_WORKERS, 30, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), Background.threads("backstop-http"));
        pool.allowCoreThreadTimeOut(true);
        executor = pool;
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
        int port = server.getAddress().getPort();
        log.info("http: / (status page), /health, /metrics{} on {}:{}", settings.http().token().isPresent() ? ", POST /backup" : "",
                settings.http().bind(), port);
        return port;
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            String method = ex.getRequestMethod();
            switch (path) {
                case "/health" -> {
                    if (!allow(ex, method, "GET", "HEAD")) {
                        return;
                    }
                    Health.Report report = health.evaluate();
                    send(ex, report.healthy() ? 200 : 503, "application/json", json.writeValueAsBytes(report));
                }
                case "/", "/index.html" -> {
                    if (!allow(ex, method, "GET", "HEAD")) {
                        return;
                    }
                    // Everything the page shows is on it: no script, style or frame from anywhere else.
                    ex.getResponseHeaders().set("Content-Security-Policy",
                            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
                    ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
                    ex.getResponseHeaders().set("Cache-Control", "no-store");
                    send(ex, 200, "text/html; charset=utf-8",
                            page.render(health.evaluate(), clock.instant()).getBytes(StandardCharsets.UTF_8));
                }
                case "/metrics" -> {
                    if (!allow(ex, method, "GET", "HEAD")) {
                        return;
                    }
                    send(ex, 200, metrics.contentType(), metrics.scrape().getBytes(StandardCharsets.UTF_8));
                }
                case "/backup" -> {
                    if (!allow(ex, method, "POST")) {
                        return;
                    }
                    backup(ex);
                }
                default -> error(ex, 404, "not found: Backstop serves GET / (the status page), GET /health, GET /metrics"
                        + " and POST /backup");
            }
        } catch (RuntimeException e) {
            log.error("http {} {} failed", ex.getRequestMethod(), ex.getRequestURI().getPath(), e);
        }
    }

    private void backup(HttpExchange ex) throws IOException {
        if (!settings.http().token().isPresent()) {
            error(ex, 403, "POST /backup is off: set backstop.http.token (BACKSTOP_HTTP_TOKEN or BACKSTOP_HTTP_TOKEN_FILE)");
            return;
        }
        if (!authorized(ex.getRequestHeaders().getFirst("Authorization"))) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"backstop\"");
            error(ex, 401, "missing or wrong bearer token");
            return;
        }
        Map<String, String> query = query(ex.getRequestURI().getRawQuery());
        Optional<Settings.Target> target = query.containsKey("target") ? settings.target(query.get("target"))
                : settings.targets().size() == 1 ? Optional.of(settings.targets().get(0)) : Optional.empty();
        if (target.isEmpty()) {
            error(ex, 400, "target=" + query.getOrDefault("target", "") + " is not a configured target; configured: "
                    + String.join(", ", settings.targets().stream().map(Settings.Target::name).toList()));
            return;
        }
        String label = query.getOrDefault("label", "api");
        Settings.Target t = target.get();
        reporter.attempt(t.name(), clock.instant());
        try {
            boolean safety = "1".equals(query.get("safety")) || "true".equals(query.get("safety"));
            BackupCycle.Result r = cycle.run(t, safety ? Backup.Request.safety(label, Duration.ZERO)
                    : new Backup.Request(Optional.of(label), Duration.ZERO), Progress.NONE);
            reporter.success(t.name(), r.backup(), r.rotation());
            afterBackup.accept(t.name()); // its offsite copy, as after a scheduled backup
            if (r.check() != null) {
                reporter.checked(t.name(), r.check());
            }
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("target", t.name());
            body.put("file", settings.backupDir().relativize(r.backup().file()).toString());
            body.put("size_bytes", r.backup().bytes());
            body.put("sha256", r.backup().manifest().sha256());
            body.put("row_counts", r.backup().rowCounts());
            body.put("tier", r.backup().manifest().tier().dir());
            body.put("data_loss_alarm", r.check() != null && r.check().alarmRaised());
            send(ex, 200, "application/json", json.writeValueAsBytes(body));
        } catch (BackstopException e) {
            int status = switch (e.code()) {
                case BUSY -> 409;
                case USAGE -> 400;
                case DATABASE_UNREACHABLE -> 503;
                default -> 500;
            };
            if (e.code() != ExitCode.BUSY && e.code() != ExitCode.USAGE) {
                reporter.failure(t.name(), e, 1);
            }
            error(ex, status, e.getMessage());
        }
    }

    private static final java.util.regex.Pattern BEARER = java.util.regex.Pattern.compile("(?i:bearer) +([^ \\t]+)");

    /** Constant-time: both sides are hashed first, so neither length nor prefix leaks through timing. */
    boolean authorized(String header) {
        // RFC 9110: the scheme is case-insensitive, one or more spaces follow it; the token is taken as sent
        // (b64token: no spaces inside or around it), so " token " is not the token.
        java.util.regex.Matcher m = header == null ? null : BEARER.matcher(header);
        if (m == null || !m.matches()) {
            return false;
        }
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] given = sha.digest(m.group(1).getBytes(StandardCharsets.UTF_8));
            byte[] expected = sha.digest(settings.http().token().reveal().getBytes(StandardCharsets.UTF_8));
            return MessageDigest.isEqual(given, expected);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private boolean allow(HttpExchange ex, String method, String... allowed) throws IOException {
        for (String a : allowed) {
            if (a.equals(method)) {
                return true;
            }
        }
        ex.getResponseHeaders().set("Allow", String.join(", ", allowed));
        error(ex, 405, "method " + method + " not allowed; allowed: " + String.join(", ", allowed));
        return false;
    }

    private void error(HttpExchange ex, int status, String message) throws IOException {
        send(ex, status, "application/json", json.writeValueAsBytes(Map.of("error", message)));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        boolean head = "HEAD".equals(ex.getRequestMethod());
        ex.sendResponseHeaders(status, head ? -1 : body.length);
        if (!head) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> map = new LinkedHashMap<>();
        if (raw == null) {
            return map;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            map.put(k, v);
        }
        return map;
    }

    @Override
    public void close() {
        if (server != null) {
            server.stop(0);
            executor.shutdownNow();
        }
    }
}
