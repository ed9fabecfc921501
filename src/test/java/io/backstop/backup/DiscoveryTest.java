package io.backstop.backup;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Which names a family takes, and the target names its databases get. */
class DiscoveryTest {
    @Test
    void patternsMatchWholeNamesAndNamesThatDoNotFitAreMadeToFitAndKeptApart() {
        assertThat(Discovery.matches(List.of("*"), "shop")).isTrue();
        assertThat(Discovery.matches(List.of("tenant_*"), "tenant_42")).isTrue();
        assertThat(Discovery.matches(List.of("tenant_*"), "a_tenant_42")).isFalse();
        assertThat(Discovery.matches(List.of("shop"), "shop2")).isFalse();
        assertThat(Discovery.matches(List.of("*"), "a/b")).as("never a path").isFalse();
        assertThat(Discovery.name("pg", "shop")).isEqualTo("pg-shop");
        assertThat(Discovery.name("pg", "Odd Name")).matches("pg-Odd_Name-[0-9a-f]{6}");
        assertThat(Discovery.name("pg", "Odd Name")).isNotEqualTo(Discovery.name("pg", "Odd_Name"));
        assertThat(Discovery.name("pg", "x".repeat(80))).hasSizeLessThanOrEqualTo(63);
    }
}
