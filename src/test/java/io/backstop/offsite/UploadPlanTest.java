package io.backstop.offsite;

import static org.assertj.core.api.Assertions.assertThat;

import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Tier;
import io.backstop.config.Settings.Retention;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The upload plan and offsite retention, decided without a store, a disk or a server. */
class UploadPlanTest {
    private static final Instant T0 = Instant.parse("2026-12-01T00:00:00Z");
    /** Offsite keeps 2 hourly and 1 daily. */
    private static final Retention OFFSITE = new Retention(2, 1, 0, 0, 1, 1);

    private static Catalog.Entry local(Tier tier, long sequence, boolean verified, boolean pinned) {
        Manifest m = Manifest.builder().sequence(sequence).target("app").file("b" + sequence + ".dump").tier(tier)
                .startedAt(T0.plusSeconds(3600 * sequence)).finishedAt(T0.plusSeconds(3600 * sequence + 60))
                .sha256("%064d".formatted(sequence)).pinned(pinned)
                .verification(new Manifest.Verification("test", verified ? "passed" : "failed", T0, 1)).build();
        return new Catalog.Entry(Path.of("/backups/app/" + tier.dir() + "/b" + sequence + ".dump"), tier,
                Optional.of(m), null, false);
    }

    private static Copy copy(Tier tier, long sequence, boolean pinned, Instant retainUntil) {
        String local = tier.dir() + "/b" + sequence + ".dump";
        return new Copy(local, "app/" + local, "app/" + local + ".json", tier, sequence, T0.plusSeconds(3600 * sequence),
                100, "%064d".formatted(sequence), "%064d".formatted(sequence), false, T0, "size read back", retainUntil,
                pinned, false);
    }

    private static Map<String, Copy> recorded(Copy... copies) {
        Map<String, Copy> map = new TreeMap<>();
        for (Copy c : copies) {
            map.put(c.local(), c);
        }
        return map;
    }

    private static List<String> names(List<Catalog.Entry> entries) {
        return entries.stream().map(UploadPlan::relative).toList();
    }

    @Test
    void onlyVerifiedBackupsWithoutACopyWait() {
        List<Catalog.Entry> local = List.of(local(Tier.HOURLY, 1, true, false), local(Tier.HOURLY, 2, false, false),
                local(Tier.HOURLY, 3, true, false));
        List<Catalog.Entry> pending = UploadPlan.pending(local, recorded(copy(Tier.HOURLY, 1, false, null)), OFFSITE,
                Copy::pinned);
        assertThat(names(pending)).containsExactly("hourly/b3.dump");
    }

    @Test
    void aBackupOffsiteRetentionWouldDeleteAtOnceIsNeverUploaded() {
        // Locally 4 hourly backups are kept; offsite keeps 2: the two oldest never go up.
        List<Catalog.Entry> local = List.of(local(Tier.HOURLY, 1, true, false), local(Tier.HOURLY, 2, true, false),
                local(Tier.HOURLY, 3, true, false), local(Tier.HOURLY, 4, true, false));
        assertThat(names(UploadPlan.pending(local, recorded(), OFFSITE, Copy::pinned)))
                .containsExactlyInAnyOrder("hourly/b3.dump", "hourly/b4.dump");
    }

    @Test
    void aPinnedOldBackupIsUploadedWhateverTheCounts() {
        List<Catalog.Entry> local = List.of(local(Tier.HOURLY, 1, true, true), local(Tier.HOURLY, 2, true, false),
                local(Tier.HOURLY, 3, true, false));
        assertThat(names(UploadPlan.pending(local, recorded(), OFFSITE, Copy::pinned)))
                .containsExactlyInAnyOrder("hourly/b1.dump", "hourly/b2.dump", "hourly/b3.dump");
    }

    @Test
    void copiesAlreadyUpCountAgainstTheOffsiteKeepOfTheirTier() {
        // Two newer copies are up already: the older local hourly would be deleted offsite at once.
        List<Catalog.Entry> local = List.of(local(Tier.HOURLY, 1, true, false));
        Map<String, Copy> up = recorded(copy(Tier.HOURLY, 5, false, null), copy(Tier.HOURLY, 6, false, null));
        assertThat(UploadPlan.pending(local, up, OFFSITE, Copy::pinned)).isEmpty();
        // Unless it is pinned now, which its local manifest says.
        assertThat(names(UploadPlan.pending(List.of(local(Tier.HOURLY, 1, true, true)), up, OFFSITE, Copy::pinned)))
                .containsExactly("hourly/b1.dump");
    }

    @Test
    void uploadsGoNewestFirstAndAnOriginalBeforeItsPromotions() {
        List<Catalog.Entry> local = List.of(local(Tier.DAILY, 3, true, false), local(Tier.HOURLY, 2, true, false),
                local(Tier.HOURLY, 3, true, false));
        assertThat(names(UploadPlan.ordered(local)))
                .containsExactly("hourly/b3.dump", "daily/b3.dump", "hourly/b2.dump");
    }

    @Test
    void offsiteRetentionLetsGoBeyondItsCountsButNeverAPinOrTheNewest() {
        Map<String, Copy> up = recorded(copy(Tier.HOURLY, 1, false, null), copy(Tier.HOURLY, 2, true, null),
                copy(Tier.HOURLY, 3, false, null), copy(Tier.HOURLY, 4, false, null), copy(Tier.DAILY, 4, false, null),
                copy(Tier.DAILY, 1, false, null));
        List<OffsiteRetention.Due> due = OffsiteRetention.plan(up.values(), OFFSITE);
        assertThat(due).extracting(d -> d.copy().local()).containsExactly("hourly/b1.dump", "daily/b1.dump");
        assertThat(due.get(0).reason()).isEqualTo("hourly keeps 2 backups; 3 newer verified ones exist");
    }

    @Test
    void withNothingRecordedNothingIsDue() {
        assertThat(OffsiteRetention.plan(List.of(), OFFSITE)).isEmpty();
    }
}
