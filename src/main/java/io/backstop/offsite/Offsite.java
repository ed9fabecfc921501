package io.backstop.offsite;

import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Catalog;
import io.backstop.catalog.Manifests;
import io.backstop.config.Settings;
import io.backstop.files.Durable;
import io.backstop.files.TargetLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Verified offsite copies. {@link #sync} uploads each verified local backup that has no copy yet
 * (newest first), encrypted to the age recipients when configured, reads the object's size and
 * checksum back, and only then uploads the manifest beside it and records the copy in
 * {@code <target>/offsite-*.json}: a copy counts (for retention, lag and restore) only once all of
 * that held. Offsite retention then applies its own counts to recorded copies only; pinned
 * backups and copies still under object lock stay. Nothing here ever changes a local backup.
 *
 * <p>Objects: {@code <prefix>/<target>/<tier>/<backup file>[.age]} and {@code ...<backup file>.json}
 * (the manifest: plain, no secrets, so a new host can choose a copy before it has the identity).
 */
public final class Offsite {
    private final Settings.Offsite settings;
    private final BackupLayout layout;
    private final Catalog catalog;
    private final Manifests manifests;
    private final Clock clock;
    private final Ledger ledger;
    private final Shipping shipping;
    private final OffsiteRetention retention;
    private final RemoteCopies remote;
    private final Downloads downloads;
    private ObjectStore store;

    public Offsite(Settings.Offsite settings, Settings.Encryption encryption, BackupLayout layout, Catalog catalog,
            Clock clock) {
        this.settings = settings;
        this.layout = layout;
        this.catalog = catalog;
        this.manifests = catalog.manifests();
        this.clock = clock;
        this.ledger = new Ledger(settings.describe(), layout, manifests.json());
        this.shipping = new Shipping(settings, encryption, layout, this::store, manifests.json(), clock);
        this.retention = new OffsiteRetention(settings, ledger, this::store, clock);
        this.remote = new RemoteCopies(settings, this::store, manifests.json());
        this.downloads = new Downloads(layout, manifests, this::store);
    }

    public Settings.Offsite settings() {
        return settings;
    }

    /** The store client: one per process, started when first needed (not for a listing of local state). */
    private synchronized ObjectStore store() {
        if (store == null) {
            store = new ObjectStore(settings);
        }
        return store;
    }

    /** What one sync did. */
    public record Status(int uploaded, int copied, long bytes, int deleted, int locked, Instant at) {
    }

    /** {@code <target>/offsite-<hash of the destination>.json}: each destination keeps its own record. */
    public Path stateFile(String target) {
        return ledger.file(target);
    }

    /** The copies of {@code target} recorded for this destination. */
    public Ledger.State state(String target) {
        return ledger.read(target);
    }

    /** When the newest verified local backup that still waits for its offsite copy was finished; empty when none waits. */
    public Optional<Instant> waitingSince(String target) {
        return pending(target, state(target)).stream()
                .map(e -> e.manifest().orElseThrow().finishedAt())
                .max(Comparator.naturalOrder());
    }

    /** The backups (as tier/file) that wait for their copy. */
    public Set<String> waiting(String target) {
        return pending(target, state(target)).stream().map(UploadPlan::relative).collect(Collectors.toSet());
    }

    private List<Catalog.Entry> pending(String target, Ledger.State state) {
        return UploadPlan.pending(catalog.list(target), state.copies(), settings.retention(),
                c -> pinnedNow(target, c));
    }

    /** Whether a copy's backup is pinned now: its local manifest says, while it exists; else what was recorded. */
    private boolean pinnedNow(String target, Copy c) {
        Path local = layout.targetDir(target).resolve(c.local());
        if (Files.isRegularFile(local)) {
            try {
                return manifests.read(local).pinned();
            } catch (BackstopException e) {
                // keep what was recorded at upload
            }
        }
        return c.pinned();
    }

    /**
     * {@link #sync} under the target's offsite lock (the daemon and a CLI command never upload the
     * same backup twice, nor write offsite-*.json at once); waits at most {@code wait} for it.
     */
    public Status syncLocked(String target, Duration wait) {
        Path lockFile = layout.targetDir(target).resolve(".offsite.lock");
        Durable.createDirectories(layout.targetDir(target));
        TargetLock lock;
        try {
            lock = TargetLock.acquire(lockFile, target, wait);
        } catch (BackstopException e) {
            if (e.code() != ExitCode.BUSY) {
                throw e;
            }
            throw new BackstopException(ExitCode.BUSY, "another offsite upload of target " + target
                    + " is running (lock " + lockFile + "); it copies this backup too");
        }
        try (lock) {
            shipping.sweepUploads(target);
            return sync(target);
        }
    }

    /**
     * Uploads what is missing and applies offsite retention. Throws on the first failure (already
     * verified copies stay recorded); the caller retries later, and the next sync catches up.
     */
    private Status sync(String target) {
        Ledger.State state = state(target);
        List<Catalog.Entry> pending = UploadPlan.ordered(pending(target, state));
        int uploaded = 0;
        int copied = 0;
        long bytes = 0;
        try (Ahead ahead = new Ahead(shipping, target, pending, state)) {
            store().check(); // a success means the store answered, even when nothing waited
            for (Catalog.Entry e : pending) {
                Copy copy = shipping.ship(target, e, state, ahead);
                state.copies().put(copy.local(), copy);
                ledger.save(target, state);
                if (copy.readback().startsWith("copied in the store")) {
                    copied++;
                } else {
                    uploaded++;
                    bytes += copy.size();
                }
            }
        }
        OffsiteRetention.Outcome gone = retention.apply(target, state, c -> pinnedNow(target, c));
        return new Status(uploaded, copied, bytes, gone.deleted(), gone.locked(), clock.instant());
    }

    // ---- reading copies back, on this host or a new one ----

    /** Every copy of {@code target} in the store with both its object and its manifest, oldest first. */
    public List<Remote> remote(String target) {
        return remote.list(target);
    }

    /**
     * The copy a reference names: {@code latest} (the newest regular backup taken with no alarm
     * raised), a file name, a label, or a timestamp prefix (as for local backups).
     */
    public Remote choose(String target, String reference) {
        return remote.choose(target, reference);
    }

    /**
     * Downloads a copy into {@code <target>/offsite/}, checked as it arrives and decrypted with {@code identity}
     * when it is encrypted, its manifest beside it: a local backup file that restore checks against its manifest.
     */
    public Path fetch(String target, Remote copy, Optional<Path> identity) {
        return downloads.fetch(target, copy, identity);
    }

    /** A copy fetched for a drill, in a directory of its own, removed when the drill closes it. */
    public Fetched fetchForDrill(String target, Remote copy, Optional<Path> identity) {
        return downloads.fetchForDrill(target, copy, identity);
    }

    public String where() {
        return store().where();
    }
}
