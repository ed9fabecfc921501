package io.backstop.notify;

import io.backstop.config.Settings;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.util.Date;
import java.util.Properties;

/**
 * Email over SMTP with Jakarta Mail: STARTTLS required (port 587), TLS from the start (465), or none
 * (a relay on this host). The server's certificate is checked against what this JVM trusts and
 * against the host name; the password goes to the server only.
 */
final class EmailChannel implements Channel {
    static final int TIMEOUT_MILLIS = 30_000;
    private final Settings.Channel settings;
    private final Settings.Smtp smtp;
    private final Session session;

    EmailChannel(Settings.Channel settings) {
        this.settings = settings;
        this.smtp = settings.smtp();
        this.session = Session.getInstance(properties(smtp));
    }

    static Properties properties(Settings.Smtp smtp) {
        Properties p = new Properties();
        String proto = smtp.security().equals("tls") ? "smtps" : "smtp";
        p.put("mail.transport.protocol", proto);
        p.put("mail." + proto + ".host", smtp.host());
        p.put("mail." + proto + ".port", Integer.toString(smtp.port()));
        p.put("mail." + proto + ".connectiontimeout", Integer.toString(TIMEOUT_MILLIS));
        p.put("mail." + proto + ".timeout", Integer.toString(TIMEOUT_MILLIS));
        p.put("mail." + proto + ".writetimeout", Integer.toString(TIMEOUT_MILLIS));
        p.put("mail." + proto + ".auth", Boolean.toString(!smtp.user().isBlank()));
        if (smtp.security().equals("starttls")) {
            p.put("mail.smtp.starttls.enable", "true");
            p.put("mail.smtp.starttls.required", "true");
        }
        if (!smtp.security().equals("none")) {
            p.put("mail." + proto + ".ssl.checkserveridentity", "true");
        }
        return p;
    }

    @Override
    public String name() {
        return settings.name();
    }

    @Override
    public String type() {
        return "email";
    }

    @Override
    public boolean takes(Event.Kind kind) {
        return kind == Event.Kind.TEST || settings.takes(kind.word());
    }

    @Override
    public void send(Event event) throws DeliveryException {
        try {
            MimeMessage message = new MimeMessage(session);
            message.setFrom(new InternetAddress(smtp.from(), true));
            for (String to : smtp.to()) {
                message.addRecipient(Message.RecipientType.TO, new InternetAddress(to, true));
            }
            message.setSubject("[Backstop] " + event.title(), "UTF-8");
            message.setSentDate(Date.from(event.at()));
            message.setHeader("X-Backstop-Event", event.kind().word());
            message.setText(event.text() + "\n", "UTF-8");
            message.saveChanges();
            String proto = smtp.security().equals("tls") ? "smtps" : "smtp";
            try (Transport transport = session.getTransport(proto)) {
                if (smtp.user().isBlank()) {
                    transport.connect();
                } else {
                    transport.connect(smtp.host(), smtp.port(), smtp.user(), smtp.password().reveal());
                }
                transport.sendMessage(message, message.getAllRecipients());
            }
        } catch (MessagingException e) {
            throw new DeliveryException(HttpChannel.redact(smtp.host() + ":" + smtp.port() + ": " + describe(e)
                    + certificateHint(e, smtp.host()), smtp.password()));
        }
    }

    /**
     * What to do about a certificate the TLS handshake refused: one from an authority this JVM does not trust
     * (a private one is added to a trust store the JVM is started with), or one for another name.
     */
    private static String certificateHint(Throwable e, String host) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = String.valueOf(t.getMessage());
            if (m.contains("PKIX path") || t instanceof java.security.cert.CertPathValidatorException) {
                return "; the server's certificate is not issued by an authority this JVM trusts: for a private"
                        + " authority, put its certificate in a trust store and start Backstop with"
                        + " JAVA_TOOL_OPTIONS=-Djavax.net.ssl.trustStore=FILE (README \"Notifications\")";
            }
            if (m.contains("No subject alternative") || m.contains("No name matching")) {
                return "; the server's certificate is not for the name " + host + ": set host to a name the"
                        + " certificate carries";
            }
        }
        return "";
    }

    private static String describe(MessagingException e) {
        StringBuilder b = new StringBuilder(String.valueOf(e.getMessage()).strip());
        Throwable cause = e.getCause();
        if (cause != null && cause.getMessage() != null && !b.toString().contains(cause.getMessage())) {
            b.append(" (").append(cause.getClass().getSimpleName()).append(": ").append(cause.getMessage()).append(')');
        }
        return b.toString().replaceAll("\\s+", " ");
    }
}
