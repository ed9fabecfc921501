package io.backstop.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.ComposeContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.junit.jupiter.Testcontainers;

/**
 * Builds the image and brings the whole compose stack up: the sidecar must take a backup and
 * report healthy. Needs a Docker engine; without one it is reported as skipped.
 */
@Testcontainers(disabledWithoutDocker = true)
class ComposeStackIT {
    @Test
    void theStackComesUpAndTheSidecarBacksUpAndIsHealthy() {
        try (ComposeContainer stack = new ComposeContainer(new File("docker-compose.yml"))
                .withBuild(true)
                .withExposedService("backup", 8080, Wait.forHttp("/health").forStatusCode(200)
                        .withStartupTimeout(Duration.ofMinutes(10)))) {
            stack.start();
            String host = stack.getServiceHost("backup", 8080);
            int port = stack.getServicePort("backup", 8080);
            assertThat(host).isNotBlank();
            assertThat(port).isPositive();
        }
    }
}
