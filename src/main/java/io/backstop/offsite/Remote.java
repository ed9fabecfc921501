package io.backstop.offsite;

import io.backstop.catalog.Manifest;
import io.backstop.catalog.Tier;

/** One copy found in the store: its object, manifest and whether it is encrypted. */
public record Remote(String key, String manifestKey, Tier tier, long size, Manifest manifest, boolean encrypted) {
    public String name() {
        return manifest.file();
    }
}
