package io.backstop;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ConfiguratorRank;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.spi.ContextAwareBase;
import ch.qos.logback.core.status.NopStatusListener;
import java.util.Locale;

/**
 * Backstop's logging, set up in code rather than from a logback.xml: readable lines on stderr (so
 * command output on stdout stays parseable), or one JSON object per line with
 * {@code BACKSTOP_LOG_FORMAT=json}; the level from {@code BACKSTOP_LOG_LEVEL}, else the one
 * {@link Main} chose for the command. Parsing XML at start loaded some 500 classes (logback's
 * Joran and the JDK's XML parser) into every process, the daemon's idle memory and each guard
 * run included. {@code -Dlogback.configurationFile=FILE} still hands logging to a file of one's own.
 */
@ConfiguratorRank(ConfiguratorRank.CUSTOM_NORMAL_PRIORITY)
public final class LogConfigurator extends ContextAwareBase implements Configurator {
    static final String PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level [%thread] %logger{0} - %msg%n";

    @Override
    public ExecutionStatus configure(LoggerContext context) {
        if (System.getProperty("logback.configurationFile") != null) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        context.getStatusManager().add(new NopStatusListener());
        ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
        console.setContext(context);
        console.setName("stderr");
        console.setTarget("System.err");
        console.setEncoder(encoder(context, setting("BACKSTOP_LOG_FORMAT", "text")));
        console.start();
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.toLevel(setting("BACKSTOP_LOG_LEVEL", System.getProperty("backstop.log.level", "INFO")),
                Level.INFO));
        root.addAppender(console);
        context.getLogger("org.quartz").setLevel(Level.WARN);
        // Logs an ERROR for every worker interrupted at shutdown, which Backstop does on purpose.
        context.getLogger("org.quartz.simpl.SimpleThreadPool").setLevel(Level.OFF);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    /** A JSON line per event for {@code json}; readable lines for anything else. */
    static Encoder<ILoggingEvent> encoder(LoggerContext context, String format) {
        if (format.strip().toLowerCase(Locale.ROOT).equals("json")) {
            JsonEncoder json = new JsonEncoder();
            json.setContext(context);
            json.setWithSequenceNumber(false);
            json.setWithNanoseconds(false);
            json.setWithContext(false);
            json.setWithFormattedMessage(true); // the message as read, beside its template and arguments
            json.start();
            return json;
        }
        PatternLayoutEncoder text = new PatternLayoutEncoder();
        text.setContext(context);
        text.setPattern(PATTERN);
        text.start();
        return text;
    }

    private static String setting(String name, String otherwise) {
        String value = System.getProperty(name, System.getenv(name));
        return value == null || value.isBlank() ? otherwise : value;
    }
}
