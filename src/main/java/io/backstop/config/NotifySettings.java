package io.backstop.config;

import static io.backstop.config.SettingsLoader.ROOT;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * {@code backstop.notify}: who hears of a problem, and how. Each channel is an object in
 * {@code channels}, read over {@code channel-defaults}; the keys it may have depend on its type.
 */
final class NotifySettings {
    private NotifySettings() {
    }

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}");
    private static final Pattern HTTP_URL = Pattern.compile("https?://[^\\s/?#]+([/?#]\\S*)?");
    private static final Pattern ADDRESS = Pattern.compile("[^\\s@<>,]+@[^\\s@<>,]+");
    private static final Set<String> COMMON = Set.of("name", "type", "events");
    private static final Map<Settings.ChannelType, Set<String>> KEYS = Map.of(
            Settings.ChannelType.WEBHOOK, Set.of("url", "url-file", "secret", "secret-file"),
            Settings.ChannelType.SLACK, Set.of("url", "url-file"),
            Settings.ChannelType.DISCORD, Set.of("url", "url-file"),
            Settings.ChannelType.NTFY, Set.of("url", "url-file", "token", "token-file"),
            Settings.ChannelType.EMAIL, Set.of("host", "port", "security", "user", "password", "password-file", "from",
                    "to"));

    static Settings.Notify read(Config c, Values v, Problems problems) {
        String base = v.string("notify.base-url", s -> s.isEmpty() || HTTP_URL.matcher(s).matches(),
                "empty (no link) or the status page's address as people reach it, e.g. https://backups.example.com");
        int failures = v.intRange("notify.failures", 1, 1000);
        java.time.Duration repeat = v.duration("notify.repeat", java.time.Duration.ZERO);
        Secret heartbeat = v.secretOrFile("notify.heartbeat-url");
        if (heartbeat.isPresent() && !HTTP_URL.matcher(heartbeat.reveal()).matches()) {
            // The value is a secret (the check's token is in it): say what is wrong, never what it is.
            problems.add(ROOT + ".notify.heartbeat-url", "must be an http(s) URL such as https://hc-ping.com/<uuid>"
                    + " (the value is not shown: it is a secret)", c.getValue("notify").origin());
        }
        List<Settings.Channel> channels = new ArrayList<>();
        if (c.hasPath("notify.channels") && c.getValue("notify.channels").valueType() == ConfigValueType.LIST) {
            List<? extends ConfigValue> list = c.getList("notify.channels");
            Set<String> names = new HashSet<>();
            for (int i = 0; i < list.size(); i++) {
                String where = ROOT + ".notify.channels[" + i + "]";
                if (!(list.get(i) instanceof ConfigObject object)) {
                    problems.add(where, "must be an object like { name = ops, type = slack, url-file = /run/secrets/slack }",
                            list.get(i).origin());
                    continue;
                }
                Settings.Channel ch = channel(object, c.getConfig("notify.channel-defaults"), problems, where);
                if (ch != null && !names.add(ch.name())) {
                    problems.add(where + ".name", "\"" + ch.name() + "\" names two channels; each needs its own name",
                            object.origin());
                }
                if (ch != null) {
                    channels.add(ch);
                }
            }
        }
        return new Settings.Notify(base.isEmpty() ? Optional.empty() : Optional.of(URI.create(base.replaceAll("/+$", ""))),
                failures, repeat, heartbeat, channels);
    }

    private static Settings.Channel channel(ConfigObject object, Config defaults, Problems problems, String where) {
        Config cc = object.toConfig().withFallback(defaults);
        Values v = new Values(cc, problems, where + ".");
        String typeName = v.string("type", s -> Settings.ChannelType.of(s).isPresent(),
                "one of " + String.join(", ", Settings.ChannelType.names()));
        Optional<Settings.ChannelType> type = Settings.ChannelType.of(typeName);
        String name = v.string("name", s -> s.isEmpty() || NAME.matcher(s).matches(),
                "a name of letters, digits, '.', '_' or '-' (it labels the channel's metrics)");
        if (type.isEmpty()) {
            return null;
        }
        if (name.isEmpty()) {
            name = type.get().word(); // one channel of a type needs no name
        }
        Set<String> allowed = new TreeSet<>(COMMON);
        allowed.addAll(KEYS.get(type.get()));
        for (String k : object.keySet()) {
            if (!allowed.contains(k)) {
                problems.add(where + "." + k, "unknown key for a " + type.get().word() + " channel; allowed: "
                        + String.join(", ", allowed), object.get(k).origin());
            }
        }
        Set<String> events = new LinkedHashSet<>(v.stringList("events",
                "a list of event names, e.g. [\"data-loss\", \"backup-failing\"]"));
        for (String e : events) {
            if (!e.equals("all") && !Settings.Notify.EVENTS.contains(e)) {
                problems.add(where + ".events", "\"" + e + "\" is not an event; allowed: all, "
                        + String.join(", ", Settings.Notify.EVENTS), cc.getValue("events").origin());
            }
        }
        if (events.contains("all") || events.isEmpty()) {
            events = new LinkedHashSet<>(Settings.Notify.EVENTS);
        }
        if (type.get() == Settings.ChannelType.EMAIL) {
            String host = v.string("host", s -> !s.isBlank(), "the SMTP server's host name");
            int port = v.intRange("port", 0, 65535);
            String security = v.string("security", s -> Set.of("starttls", "tls", "none").contains(s),
                    "starttls (port 587: the connection is upgraded, or refused), tls (port 465: TLS from the"
                            + " start) or none (a relay on this host only)");
            String from = v.string("from", s -> ADDRESS.matcher(s.replaceAll(".*<(.*)>.*", "$1")).matches(),
                    "the sender's address, e.g. backstop@example.com or \"Backstop <backstop@example.com>\"");
            List<String> to = v.stringList("to", "a list of addresses, e.g. [\"oncall@example.com\"]");
            if (to.isEmpty() || !to.stream().allMatch(a -> ADDRESS.matcher(a).matches())) {
                problems.add(where + ".to", "must be a list of one or more addresses, e.g. [\"oncall@example.com\"]",
                        cc.getValue("to").origin());
            }
            if (port == 0) {
                port = switch (security) {
                    case "tls" -> 465;
                    case "none" -> 25;
                    default -> 587;
                };
            }
            return new Settings.Channel(name, type.get(), Set.copyOf(events), Secret.none(), Secret.none(),
                    new Settings.Smtp(host, port, security, v.string("user", s -> true, "a user name"),
                            v.secretOrFile("password"), from, List.copyOf(to)));
        }
        Secret url = v.secretOrFile("url");
        if (!url.isPresent()) {
            problems.add(where + ".url", "is empty; a " + type.get().word() + " channel needs its URL in url or (better,"
                    + " it holds a token) in a file named by url-file", object.origin());
        } else if (!HTTP_URL.matcher(url.reveal()).matches()) {
            problems.add(where + ".url", "must be an http(s) URL, e.g. " + type.get().example()
                    + " (the value is not shown: it is a secret)", object.origin());
        }
        Secret secret = type.get() == Settings.ChannelType.WEBHOOK ? v.secretOrFile("secret")
                : type.get() == Settings.ChannelType.NTFY ? v.secretOrFile("token") : Secret.none();
        return new Settings.Channel(name, type.get(), Set.copyOf(events), url, secret, null);
    }
}
