package io.backstop.notify;

import io.backstop.config.Secret;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The dead-man's switch: a GET of the configured URL after every successful backup, and of the
 * URL with {@code /fail} appended to its path after a failed one (healthchecks.io and Better Stack
 * read it so; an Uptime Kuma push URL, recognised by its {@code status=up} query, gets
 * {@code status=down} instead). The outside service raises the alarm when the pings stop.
 */
final class Heartbeat implements Channel {
    static final String NAME = "heartbeat";
    private final Secret url;
    private final HttpClient client;

    Heartbeat(Secret url, HttpClient client) {
        this.url = url;
        this.client = client;
    }

    /** The event that asks for one ping: success or failure of the backup of {@code target}. */
    static Event ping(String target, boolean ok, Instant at) {
        return Event.of(Event.Kind.HEARTBEAT, ok ? Event.State.RESOLVED : Event.State.PROBLEM, target, at, at,
                "heartbeat " + (ok ? "ok" : "fail"), List.of(), null, Map.of("ok", ok), Optional.empty());
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String type() {
        return NAME;
    }

    @Override
    public boolean takes(Event.Kind kind) {
        return kind == Event.Kind.HEARTBEAT;
    }

    @Override
    public void send(Event event) throws DeliveryException {
        URI uri = target(URI.create(url.reveal()), Boolean.TRUE.equals(event.details().get("ok")));
        HttpChannel.post(client, HttpRequest.newBuilder(uri).timeout(HttpChannel.REQUEST_TIMEOUT)
                .header("User-Agent", "Backstop").GET().build(), uri, url, Secret.of(uri.toString()));
    }

    /** The URL to request: as configured after a success; its failure form after a failure. */
    static URI target(URI configured, boolean ok) {
        if (ok) {
            return configured;
        }
        String query = configured.getRawQuery();
        if (query != null && query.matches("(.*&)?status=up(&.*)?")) {
            return URI.create(configured.toString().replace("status=up", "status=down"));
        }
        String path = configured.getRawPath() == null ? "" : configured.getRawPath().replaceAll("/+$", "");
        return URI.create(configured.getScheme() + "://" + configured.getRawAuthority() + path + "/fail"
                + (query == null ? "" : "?" + query));
    }
}
