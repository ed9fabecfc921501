package io.backstop.notify;

import io.backstop.config.Settings;
import java.net.URI;
import java.net.http.HttpClient;
import java.util.ArrayList;
import java.util.List;

/** The configured channels, built and described (never with their URLs, tokens or passwords). */
final class Channels {
    private Channels() {
    }

    static List<Channel> of(Settings.Notify notify, HttpClient client) {
        List<Channel> out = new ArrayList<>();
        for (Settings.Channel c : notify.channels()) {
            out.add(of(c, client));
        }
        return out;
    }

    static Channel of(Settings.Channel c, HttpClient client) {
        return c.type() == Settings.ChannelType.EMAIL ? new EmailChannel(c) : new HttpChannel(c, client);
    }

    /** "oncall (slack, hooks.slack.com; events: all)": what the start-up log and notify --test say. */
    static List<String> describe(Settings.Notify notify) {
        return notify.channels().stream().map(Channels::describe).toList();
    }

    static String describe(Settings.Channel c) {
        String where;
        if (c.type() == Settings.ChannelType.EMAIL) {
            where = c.smtp().host() + ":" + c.smtp().port() + " " + c.smtp().security() + ", to " + c.smtp().to().size()
                    + (c.smtp().to().size() == 1 ? " address" : " addresses");
        } else {
            String host;
            try {
                host = URI.create(c.url().reveal()).getHost();
            } catch (IllegalArgumentException e) {
                host = "?";
            }
            where = host + (c.type() == Settings.ChannelType.WEBHOOK && c.secret().isPresent() ? ", signed" : "");
        }
        String events = c.events().size() == Settings.Notify.EVENTS.size() ? "all"
                : String.join(", ", Settings.Notify.EVENTS.stream().filter(c.events()::contains).toList());
        return c.name() + " (" + c.type().word() + ", " + where + "; events: " + events + ")";
    }
}
