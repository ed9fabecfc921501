package io.backstop.notify;

import static org.assertj.core.api.Assertions.assertThat;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import io.backstop.ExitCode;
import jakarta.mail.internet.MimeMessage;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.subethamail.smtp.auth.EasyAuthenticationHandlerFactory;
import org.subethamail.smtp.auth.LoginFailedException;
import org.subethamail.smtp.server.SMTPServer;

/**
 * Email over TLS against real SMTP servers with a certificate made here for the name {@code localhost}: one
 * speaking TLS from its first byte ({@code security = tls}, port 465's protocol: GreenMail's SMTPS), one that
 * upgrades with STARTTLS and takes a login only after it ({@code security = starttls}, port 587's: SubEthaSMTP),
 * and one that offers no STARTTLS. {@code backstop notify --test} runs in a JVM of its own, as an operator runs
 * it: trusting that certificate it delivers, with the login; not trusting it, reaching the server by a name the
 * certificate does not carry, or finding no STARTTLS where it is required, it sends nothing, exits 14 and names
 * why. The password is never in what it prints.
 */
class EmailTlsIT {
    private static final String STORE_PASSWORD = "changeit";
    private static final String SMTP_PASSWORD = "tls-pa55-word";

    @TempDir
    static Path dir;

    private static GreenMail smtp;
    private static Path trust;
    private static SMTPServer startTls;
    private static SMTPServer noTls;
    private static final BlockingQueue<String> arrived = new LinkedBlockingQueue<>();

    @BeforeAll
    static void serverWithItsOwnCertificate() throws Exception {
        Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
        Path server = dir.resolve("server.p12");
        run(keytool.toString(), "-genkeypair", "-alias", "smtp", "-keyalg", "EC", "-groupname", "secp256r1",
                "-dname", "CN=localhost", "-ext", "SAN=dns:localhost", "-validity", "2", "-keystore", server.toString(),
                "-storetype", "PKCS12", "-storepass", STORE_PASSWORD, "-keypass", STORE_PASSWORD);
        Path cert = dir.resolve("smtp.crt");
        run(keytool.toString(), "-exportcert", "-alias", "smtp", "-keystore", server.toString(), "-storepass",
                STORE_PASSWORD, "-file", cert.toString());
        trust = dir.resolve("trust.p12");
        run(keytool.toString(), "-importcert", "-noprompt", "-alias", "smtp", "-file", cert.toString(), "-keystore",
                trust.toString(), "-storetype", "PKCS12", "-storepass", STORE_PASSWORD);
        // GreenMail's TLS sockets take their key from these (read once, when its first TLS server starts).
        System.setProperty("greenmail.tls.keystore.file", server.toString());
        System.setProperty("greenmail.tls.keystore.password", STORE_PASSWORD);
        System.setProperty("greenmail.tls.key.password", STORE_PASSWORD);
        smtp = new GreenMail(new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_SMTPS).dynamicPort());
        smtp.start();
        smtp.setUser("backstop@example.com", "backstop", SMTP_PASSWORD);

        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(server)) {
            keys.load(in, STORE_PASSWORD.toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, STORE_PASSWORD.toCharArray());
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(kmf.getKeyManagers(), null, null);
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        startTls = SMTPServer.port(0).bindAddress(loopback).enableTLS().requireTLS().startTlsSocketFactory(tls)
                .requireAuth().authenticationHandlerFactory(new EasyAuthenticationHandlerFactory((user, password, c) -> {
                    if (!"backstop".equals(user) || !SMTP_PASSWORD.equals(password)) {
                        throw new LoginFailedException();
                    }
                }))
                .messageHandler((context, from, to, data) -> arrived.add(to + "\n" + new String(data,
                        StandardCharsets.UTF_8)))
                .build();
        startTls.start();
        noTls = SMTPServer.port(0).bindAddress(loopback)
                .messageHandler((context, from, to, data) -> arrived.add("in the clear to " + to)).build();
        noTls.start();
    }

    @AfterAll
    static void stop() {
        if (smtp != null) {
            smtp.stop();
        }
        for (SMTPServer s : new SMTPServer[] {startTls, noTls}) {
            if (s != null) {
                s.stop();
            }
        }
    }

    @Test
    void aTrustedCertificateForTheNameDeliversWithTheLogin() throws Exception {
        int before = smtp.getReceivedMessages().length;
        Result r = notifyTest("localhost", smtp.getSmtps().getPort(), "tls", true);
        assertThat(r.exit()).as(r.output()).isEqualTo(ExitCode.OK.status());
        assertThat(r.output()).contains("sent    ").contains("1 of 1 channels delivered");
        assertThat(smtp.waitForIncomingEmail(30_000, before + 1)).isTrue();
        MimeMessage mail = smtp.getReceivedMessages()[before];
        assertThat(mail.getSubject()).startsWith("[Backstop]");
        assertThat(mail.getAllRecipients()[0].toString()).isEqualTo("oncall@example.com");
        assertThat(r.output()).doesNotContain(SMTP_PASSWORD);
    }

    @Test
    void aCertificateThisJvmDoesNotTrustSendsNothingAndSaysWhy() throws Exception {
        assertThat(refused("localhost", smtp.getSmtps().getPort(), "tls", false))
                .contains("not issued by an authority this JVM trusts")
                .contains("JAVA_TOOL_OPTIONS=-Djavax.net.ssl.trustStore=");
    }

    @Test
    void aNameTheCertificateDoesNotCarryIsRefusedEvenWhenItIsTrusted() throws Exception {
        assertThat(refused("127.0.0.1", smtp.getSmtps().getPort(), "tls", true))
                .contains("the server's certificate is not for the name 127.0.0.1");
    }

    @Test
    void startTlsUpgradesBeforeTheLoginAndDelivers() throws Exception {
        arrived.clear();
        Result r = notifyTest("localhost", startTls.getPortAllocated(), "starttls", true);
        assertThat(r.exit()).as(r.output()).isEqualTo(ExitCode.OK.status());
        assertThat(r.output()).contains("localhost:" + startTls.getPortAllocated() + " starttls").doesNotContain(
                SMTP_PASSWORD);
        String mail = arrived.poll(30, TimeUnit.SECONDS);
        assertThat(mail).as("the test message, through the upgraded connection").isNotNull()
                .startsWith("oncall@example.com\n").contains("Subject: [Backstop]");
    }

    @Test
    void startTlsRefusesAServerThatDoesNotUpgradeAndSendsNothingInTheClear() throws Exception {
        assertThat(refused("localhost", noTls.getPortAllocated(), "starttls", true)).contains("STARTTLS");
    }

    @Test
    void startTlsChecksTheCertificateAsTlsDoes() throws Exception {
        assertThat(refused("localhost", startTls.getPortAllocated(), "starttls", false))
                .contains("not issued by an authority this JVM trusts");
    }

    /**
     * {@link #notifyTest} that must fail: exit 14, the channel's line naming the server, no password, and nothing
     * delivered to any of the servers. Returns what it printed.
     */
    private static String refused(String host, int port, String security, boolean trusted) throws Exception {
        int before = smtp.getReceivedMessages().length;
        arrived.clear();
        Result r = notifyTest(host, port, security, trusted);
        assertThat(r.exit()).as(r.output()).isEqualTo(ExitCode.NOTIFY.status());
        assertThat(r.output()).contains("FAILED").contains(host + ":" + port).doesNotContain(SMTP_PASSWORD);
        assertThat(smtp.getReceivedMessages()).as("nothing delivered").hasSize(before);
        assertThat(arrived).as("nothing delivered, in the clear or not").isEmpty();
        return r.output();
    }

    private record Result(int exit, String output) {
    }

    /** {@code backstop notify --test} in a JVM of its own, reaching the server as {@code host}. */
    private static Result notifyTest(String host, int port, String security, boolean trusted) throws Exception {
        Path password = Files.writeString(dir.resolve("smtp-password"), SMTP_PASSWORD);
        Path conf = dir.resolve("backstop-" + host + "-" + port + "-" + trusted + ".conf");
        Files.writeString(conf, """
                backstop {
                  notify.channels = [
                    { name = mail, type = email, host = "%s", port = %d, security = %s, user = backstop,
                      password-file = "%s", from = "Backstop <backstop@example.com>", to = ["oncall@example.com"] }
                  ]
                }
                """.formatted(host, port, security, password));
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString()));
        if (trusted) {
            command.addAll(List.of("-Djavax.net.ssl.trustStore=" + trust, "-Djavax.net.ssl.trustStoreType=PKCS12",
                    "-Djavax.net.ssl.trustStorePassword=" + STORE_PASSWORD));
        }
        command.addAll(List.of("-jar", Path.of("target/backstop.jar").toAbsolutePath().toString(), "notify", "--test"));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("BACKSTOP_") || k.startsWith("PG"));
        pb.environment().put("BACKSTOP_CONFIG", conf.toString());
        pb.environment().put("BACKSTOP_BACKUP_DIR", dir.resolve("backups").toString());
        pb.environment().put("PGHOST", "127.0.0.1");
        pb.environment().put("PGDATABASE", "app");
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("notify --test ended").isTrue();
        return new Result(p.exitValue(), output);
    }

    private static void run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + output).isZero();
    }
}
