package io.backstop.counts;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** /health and state.json carry drops: every field keeps one meaning. */
class DropJsonTest {
    private final ObjectMapper json = new ObjectMapper();

    @Test
    void aDatabaseLevelReasonHasItsOwnFieldAndTableStaysATableName() throws Exception {
        TargetState.Baseline baseline = new TargetState.Baseline(null, 1, null, "sys1", 42, Map.of("public.users", 10L));
        Drop drop = DropDetector.compare(baseline, new DropDetector.Observation("sys2", 42, Map.of()),
                new io.backstop.config.SettingsLoader(Map.of()).load(java.util.Optional.empty()).rowCounts()).get(0);
        String text = json.writeValueAsString(drop);
        assertThat(text).contains("\"table\":null", "\"kind\":\"RECREATED\"", "\"reason\":\"cluster system identifier changed");
        assertThat(drop.describe()).startsWith("the database was recreated: cluster system identifier changed");
    }

    @Test
    void aStateFileFromBeforeKeepsItsAlarmReadable() throws Exception {
        Drop old = json.readValue("{\"table\":\"database OID changed from 1 to 2\",\"kind\":\"RECREATED\",\"before\":5}",
                Drop.class);
        assertThat(old.table()).isNull();
        assertThat(old.reason()).isEqualTo("database OID changed from 1 to 2");
        Drop table = json.readValue("{\"table\":\"public.users\",\"kind\":\"EMPTIED\",\"before\":5,\"after\":0}", Drop.class);
        assertThat(table.table()).isEqualTo("public.users");
        assertThat(table.reason()).isNull();
    }
}
