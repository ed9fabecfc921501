package io.backstop.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ToolsTest {
    @Test
    void aMissingToolFailsNamingItsPackageAndTheWrapper() {
        assertThatThrownBy(() -> Tools.require("backstop-no-such-tool", "no-such-package"))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("backstop-no-such-tool is not installed", "Run ./test",
                        "apt-get install --no-install-recommends no-such-package");
    }

    @Test
    void aPresentToolIsReturned() {
        assertThat(Tools.require("sh", "dash")).isEqualTo("sh");
    }
}
