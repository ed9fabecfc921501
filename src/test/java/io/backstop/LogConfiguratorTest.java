package io.backstop;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class LogConfiguratorTest {
    private static String encode(String format) {
        LoggerContext context = new LoggerContext();
        context.setMDCAdapter(new ch.qos.logback.classic.util.LogbackMDCAdapter());
        LoggingEvent event = new LoggingEvent("test", context.getLogger("io.backstop.backup.Backup"), Level.WARN,
                "backup {} failed", null, new Object[] {"app"});
        return new String(LogConfigurator.encoder(context, format).encode(event), StandardCharsets.UTF_8);
    }

    @Test
    void readableLinesByDefaultAndForAnUnknownFormat() {
        for (String format : new String[] {"text", "", "xml"}) {
            assertThat(encode(format)).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\S+ WARN  \\[\\S+\\] Backup"
                    + " - backup app failed\\R");
        }
    }

    @Test
    void jsonIsOneObjectPerLineWithTheMessageAsRead() throws Exception {
        String line = encode(" JSON ");
        assertThat(line).endsWith("\n").doesNotContain("\n\n");
        com.fasterxml.jackson.databind.JsonNode node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line);
        assertThat(node.get("level").asText()).isEqualTo("WARN");
        assertThat(node.get("loggerName").asText()).isEqualTo("io.backstop.backup.Backup");
        assertThat(node.get("formattedMessage").asText()).isEqualTo("backup app failed");
        assertThat(node.has("sequenceNumber")).isFalse();
    }

    @Test
    void configuresTheRootLoggerOnStderrAndQuietsQuartz() {
        LoggerContext context = new LoggerContext();
        LogConfigurator configurator = new LogConfigurator();
        configurator.setContext(context);
        String before = System.getProperty("backstop.log.level");
        System.setProperty("backstop.log.level", "WARN");
        try {
            assertThat(configurator.configure(context))
                    .isEqualTo(ch.qos.logback.classic.spi.Configurator.ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY);
        } finally {
            if (before == null) {
                System.clearProperty("backstop.log.level");
            } else {
                System.setProperty("backstop.log.level", before);
            }
        }
        ch.qos.logback.classic.Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        assertThat(root.getLevel()).isEqualTo(System.getenv("BACKSTOP_LOG_LEVEL") == null ? Level.WARN
                : Level.toLevel(System.getenv("BACKSTOP_LOG_LEVEL"), Level.INFO));
        ConsoleAppender<?> console = (ConsoleAppender<?>) root.getAppender("stderr");
        assertThat(console.getTarget()).isEqualTo("System.err");
        assertThat(console.isStarted()).isTrue();
        assertThat(context.getLogger("org.quartz").getLevel()).isEqualTo(Level.WARN);
        assertThat(context.getLogger("org.quartz.simpl.SimpleThreadPool").getLevel()).isEqualTo(Level.OFF);
    }
}
