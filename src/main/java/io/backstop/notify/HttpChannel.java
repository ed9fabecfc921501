package io.backstop.notify;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.backstop.config.Secret;
import io.backstop.config.Settings;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The channels that POST to a URL: a generic webhook (JSON, HMAC-SHA256 signed), Slack and Discord
 * incoming webhooks, and ntfy. Each renders the event in the receiver's documented format. The URL
 * carries the receiver's token, so neither it nor any part of it reaches a message: errors name
 * the host only.
 */
final class HttpChannel implements Channel {
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
    private static final ObjectMapper JSON = new ObjectMapper().findAndRegisterModules()
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);

    private final Settings.Channel settings;
    private final HttpClient client;

    HttpChannel(Settings.Channel settings, HttpClient client) {
        this.settings = settings;
        this.client = client;
    }

    static HttpClient client() {
        return HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT).followRedirects(HttpClient.Redirect.NEVER).build();
    }

    @Override
    public String name() {
        return settings.name();
    }

    @Override
    public String type() {
        return settings.type().word();
    }

    @Override
    public boolean takes(Event.Kind kind) {
        return kind == Event.Kind.TEST || settings.takes(kind.word());
    }

    @Override
    public void send(Event event) throws DeliveryException {
        URI uri = URI.create(settings.url().reveal());
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(REQUEST_TIMEOUT)
                .header("User-Agent", "Backstop");
        byte[] body = switch (settings.type()) {
            case WEBHOOK -> webhook(event, request, settings.secret());
            case SLACK -> json(request, slack(event));
            case DISCORD -> json(request, discord(event));
            case NTFY -> ntfy(event, request, settings.secret());
            case EMAIL -> throw new IllegalStateException("an email channel is not an HTTP channel");
        };
        post(client, request.POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), uri, settings.url(),
                settings.secret());
    }

    /** Sends {@code request}; anything but a 2xx is a failure whose message names the host and status only. */
    static void post(HttpClient client, HttpRequest request, URI uri, Secret... secrets) throws DeliveryException {
        HttpResponse<String> response;
        try {
            response = client.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new DeliveryException(redact(uri.getHost() + ": " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")"), secrets));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DeliveryException(uri.getHost() + ": interrupted");
        }
        int status = response.statusCode();
        if (status / 100 != 2) {
            String said = response.body() == null ? "" : response.body().strip();
            said = said.length() > 160 ? said.substring(0, 160) + "..." : said;
            throw new DeliveryException(redact(uri.getHost() + " answered HTTP " + status
                    + (said.isEmpty() ? "" : ": " + said.replaceAll("\\s+", " ")), secrets));
        }
    }

    /** Removes each secret, and each path or query of a secret URL, from {@code message}. */
    static String redact(String message, Secret... secrets) {
        String out = message;
        for (Secret s : secrets) {
            if (s == null || !s.isPresent()) {
                continue;
            }
            List<String> parts = new ArrayList<>(List.of(s.reveal()));
            try {
                URI u = URI.create(s.reveal());
                if (u.getRawPath() != null && u.getRawPath().length() > 1) {
                    parts.add(u.getRawPath());
                }
                if (u.getRawQuery() != null) {
                    parts.add(u.getRawQuery());
                }
            } catch (IllegalArgumentException e) {
                // not a URL: the value itself is removed
            }
            for (String p : parts) {
                out = out.replace(p, "****");
            }
        }
        return out;
    }

    private static byte[] json(HttpRequest.Builder request, Object body) {
        request.header("Content-Type", "application/json");
        try {
            return JSON.writeValueAsBytes(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The documented webhook body (README "Webhook"), signed when a secret is set. */
    static Map<String, Object> webhookBody(Event e) {
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("version", 1);
        b.put("id", e.id());
        b.put("event", e.kind().word());
        b.put("state", e.state().word());
        b.put("target", e.target());
        b.put("at", e.at().toString());
        b.put("since", e.since() == null ? null : e.since().toString());
        b.put("title", e.title());
        b.put("text", e.text());
        b.put("command", e.command());
        b.put("status_url", e.link().map(URI::toString).orElse(null));
        b.put("details", e.details());
        return b;
    }

    private static byte[] webhook(Event e, HttpRequest.Builder request, Secret secret) {
        byte[] body = json(request, webhookBody(e));
        request.header("X-Backstop-Event", e.kind().word()).header("X-Backstop-Delivery", e.id());
        if (secret.isPresent()) {
            request.header("X-Backstop-Signature", "sha256=" + hmac(secret, body));
        }
        return body;
    }

    /** Hex HMAC-SHA256 of {@code body} under {@code secret}: what a receiver recomputes to trust the body. */
    static String hmac(Secret secret, byte[] body) {
        try {
            javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
            mac.init(new javax.crypto.spec.SecretKeySpec(secret.reveal().getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return java.util.HexFormat.of().formatHex(mac.doFinal(body));
        } catch (java.security.GeneralSecurityException ex) {
            throw new IllegalStateException(ex);
        }
    }

    /** Slack's incoming-webhook format: {@code text} (the notification) and Block Kit blocks. */
    static Map<String, Object> slack(Event e) {
        List<Object> blocks = new ArrayList<>();
        blocks.add(Map.of("type", "header", "text", Map.of("type", "plain_text", "text", cut(e.title(), 150))));
        String facts = String.join("\n", e.lines().stream().map(HttpChannel::slackEscape).toList());
        if (!facts.isEmpty()) {
            blocks.add(Map.of("type", "section", "text", Map.of("type", "mrkdwn", "text", cut(facts, 3000))));
        }
        if (e.command() != null) {
            blocks.add(Map.of("type", "section", "text", Map.of("type", "mrkdwn",
                    "text", cut("Run:\n```" + slackEscape(e.command()) + "```", 3000))));
        }
        e.link().ifPresent(l -> blocks.add(Map.of("type", "context", "elements",
                List.of(Map.of("type", "mrkdwn", "text", "<" + l + "|Status page>")))));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("text", slackEscape(e.title()));
        body.put("blocks", blocks);
        return body;
    }

    /** Slack's control characters in mrkdwn: &, < and >. */
    static String slackEscape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    /** Discord's webhook format: {@code content} and one embed; mentions in the text never ping anyone. */
    static Map<String, Object> discord(Event e) {
        Map<String, Object> embed = new LinkedHashMap<>();
        embed.put("title", cut(e.title(), 256));
        String description = String.join("\n", e.lines()) + (e.command() == null ? "" : "\n\nRun:\n```\n" + e.command()
                + "\n```");
        embed.put("description", cut(description.strip(), 4096));
        embed.put("color", e.state() == Event.State.RESOLVED ? 0x2e7d32 : e.kind().urgent() ? 0xc62828 : 0xef6c00);
        embed.put("timestamp", e.at().toString());
        e.link().ifPresent(l -> embed.put("url", l.toString()));
        embed.put("footer", Map.of("text", "Backstop · target " + e.target()));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("username", "Backstop");
        body.put("content", cut(e.title(), 2000));
        body.put("embeds", List.of(embed));
        body.put("allowed_mentions", Map.of("parse", List.of()));
        return body;
    }

    /** ntfy's publish-by-POST: the body is the message; title, priority, tags and the click link are headers. */
    private static byte[] ntfy(Event e, HttpRequest.Builder request, Secret token) {
        request.header("Content-Type", "text/plain; charset=utf-8");
        request.header("Title", header(e.title()));
        request.header("Priority", Integer.toString(ntfyPriority(e)));
        request.header("Tags", e.state() == Event.State.RESOLVED ? "white_check_mark"
                : e.state() == Event.State.TEST ? "bell" : e.kind().urgent() ? "rotating_light" : "warning");
        e.link().ifPresent(l -> request.header("Click", l.toString()));
        if (token.isPresent()) {
            request.header("Authorization", "Bearer " + token.reveal());
        }
        return e.text().getBytes(StandardCharsets.UTF_8);
    }

    /** ntfy's 1-5: urgent for a data loss or a WAL gap, high for other problems, default otherwise. */
    static int ntfyPriority(Event e) {
        if (e.state() == Event.State.RESOLVED || e.state() == Event.State.TEST) {
            return 3;
        }
        return e.kind().urgent() ? 5 : 4;
    }

    /** A header value: ASCII as is, anything else as an RFC 2047 encoded word (which ntfy decodes). */
    static String header(String value) {
        String oneLine = value.replaceAll("[\\r\\n]+", " ");
        if (oneLine.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
            return oneLine;
        }
        return "=?UTF-8?B?" + java.util.Base64.getEncoder().encodeToString(oneLine.getBytes(StandardCharsets.UTF_8)) + "?=";
    }

    static String cut(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 3) + "...";
    }
}
