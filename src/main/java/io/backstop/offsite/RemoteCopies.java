package io.backstop.offsite;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.backstop.BackstopException;
import io.backstop.ExitCode;
import io.backstop.catalog.BackupLayout;
import io.backstop.catalog.Manifest;
import io.backstop.catalog.Tier;
import io.backstop.config.Settings;
import io.backstop.crypt.Age;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/** The copies a store holds for a target, read from its listing and their manifests: on this host or a new one. */
final class RemoteCopies {
    private final Settings.Offsite settings;
    private final Supplier<ObjectStore> store;
    private final ObjectMapper json;

    RemoteCopies(Settings.Offsite settings, Supplier<ObjectStore> store, ObjectMapper json) {
        this.settings = settings;
        this.store = store;
        this.json = json;
    }

    /** Every copy of {@code target} in the store with both its object and its manifest, oldest first. */
    List<Remote> list(String target) {
        ObjectStore s3 = store.get();
        String base = (settings.prefix().isEmpty() ? "" : settings.prefix() + "/") + target + "/";
        Map<String, ObjectStore.Listed> objects = new LinkedHashMap<>();
        for (ObjectStore.Listed o : s3.list(base)) {
            objects.put(o.key(), o);
        }
        List<Remote> copies = new ArrayList<>();
        for (String k : objects.keySet()) {
            if (!k.endsWith(BackupLayout.MANIFEST_SUFFIX)) {
                continue;
            }
            String dump = k.substring(0, k.length() - BackupLayout.MANIFEST_SUFFIX.length());
            String rest = k.substring(base.length());
            int slash = rest.indexOf('/');
            if (slash < 0) {
                continue;
            }
            Tier tier;
            try {
                tier = Tier.parse(rest.substring(0, slash));
            } catch (IllegalArgumentException e) {
                continue;
            }
            String objectKey = objects.containsKey(dump) ? dump : dump + Age.SUFFIX;
            if (!objects.containsKey(objectKey)) {
                continue; // a manifest whose object is gone (deleted half-way): not a copy
            }
            boolean encrypted = objectKey.endsWith(Age.SUFFIX);
            Manifest m;
            try {
                m = json.readValue(s3.getSmall(k), Manifest.class);
            } catch (IOException e) {
                continue; // not one of ours
            }
            copies.add(new Remote(objectKey, k, tier, objects.get(objectKey).size(), m, encrypted));
        }
        copies.sort(Comparator.comparing((Remote r) -> r.manifest().startedAt()).thenComparing(Remote::key));
        return copies;
    }

    /**
     * The copy a reference names: {@code latest} (the newest regular backup taken with no alarm
     * raised), a file name, a label, or a timestamp prefix (as for local backups).
     */
    Remote choose(String target, String reference) {
        List<Remote> all = list(target);
        String ref = reference == null || reference.isBlank() ? "latest" : reference;
        List<Remote> matching;
        if (ref.equals("latest")) {
            matching = all.stream().filter(r -> r.tier().regular() && !r.manifest().takenDuringAlarm()
                    && r.manifest().verified()).toList();
        } else {
            String prefix = ref.replace("-", "").replace(":", "");
            matching = all.stream().filter(r -> r.name().equals(ref) || r.key().endsWith("/" + ref)
                    || ref.equals(r.manifest().label())
                    || (r.tier().regular() && BackupLayout.stamp(r.manifest().startedAt()).startsWith(prefix))).toList();
        }
        if (matching.isEmpty()) {
            throw new BackstopException(ExitCode.BAD_BACKUP, "no offsite copy of target " + target + " matches \""
                    + ref + "\" in " + store.get().where() + " (" + all.size() + " copies there; backstop list --offsite"
                    + " shows them)");
        }
        return matching.get(matching.size() - 1);
    }

}
