package io.backstop.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's first command on a machine that lacks Maven and a JDK. */
class LauncherTest {
    @TempDir
    Path dir;

    @Test
    void withoutMavenOrAJdkTheLauncherSaysInOneLineWhatInstallsThem() throws Exception {
        // A checkout without a built jar, and a PATH with the shell's basics only: no mvn, no javac, no sudo.
        Path checkout = Files.createDirectories(dir.resolve("checkout"));
        Files.copy(Path.of("backstop"), checkout.resolve("backstop"));
        Files.writeString(checkout.resolve("pom.xml"), "<project/>\n");
        Path bin = Files.createDirectories(dir.resolve("bin"));
        for (String tool : List.of("bash", "dirname", "id")) {
            Files.createSymbolicLink(bin.resolve(tool), Path.of("/usr/bin", tool).toRealPath());
        }
        dir.toFile().setExecutable(true, false);
        checkout.toFile().setExecutable(true, false);
        bin.toFile().setExecutable(true, false);
        List<String> command = new ArrayList<>();
        if ("root".equals(System.getProperty("user.name"))) {
            // As root the launcher would install them; as any other user without sudo it must say how.
            command.addAll(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"));
        }
        command.addAll(List.of(bin.resolve("bash").toString(), checkout.resolve("backstop").toString(), "--version"));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().clear();
        pb.environment().put("PATH", bin.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isEqualTo(2);
        assertThat(out.strip().lines()).as(out).hasSize(1);
        assertThat(out).contains("apt-get install --no-install-recommends maven openjdk-17-jdk-headless")
                .doesNotContain("command not found");
    }

    /** ./test's check of the JDK: a Java 11, or a runtime without javac, is not taken for one that builds. */
    @org.junit.jupiter.params.ParameterizedTest(name = "java {0}, javac {1}: accepted {2}")
    @org.junit.jupiter.params.provider.CsvSource({"11.0.22, true, false", "17.0.15, false, false", "17.0.15, true, true",
        "21.0.5, true, true", "1.8.0_392, true, false"})
    void theTestScriptTakesOnlyAJdkOf17OrNewer(String version, boolean javac, boolean accepted) throws Exception {
        Path bin = Files.createDirectories(dir.resolve("fake-" + version + "-" + javac));
        Path java = bin.resolve("java");
        Files.writeString(java, "#!/bin/sh\necho 'openjdk version \"" + version + "\" 2024-01-16' >&2\n");
        java.toFile().setExecutable(true);
        if (javac) {
            Path c = bin.resolve("javac");
            Files.writeString(c, "#!/bin/sh\nexit 0\n");
            c.toFile().setExecutable(true);
        }
        for (String tool : List.of("awk", "sh")) {
            Files.createSymbolicLink(bin.resolve(tool), Path.of("/usr/bin", tool).toRealPath());
        }
        String script = Files.readString(Path.of("test"));
        String function = script.substring(script.indexOf("java_ok() {"), script.indexOf("\n}\n", script.indexOf("java_ok() {")) + 3);
        ProcessBuilder pb = new ProcessBuilder("/bin/bash", "-c", function + "\njava_ok").redirectErrorStream(true);
        pb.environment().put("PATH", bin.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue() == 0).as(out).isEqualTo(accepted);
    }
}
