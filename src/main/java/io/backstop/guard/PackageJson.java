package io.backstop.guard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** The "scripts" of a package.json: what {@code npm run X} really runs. */
final class PackageJson {
    private PackageJson() {
    }

    /** Name to command line; empty when {@code dir} has no readable package.json. */
    static Map<String, String> scripts(Path dir) {
        return scriptsOf(dir.resolve("package.json"));
    }

    static Map<String, String> scriptsOf(Path file) {
        Map<String, String> out = new LinkedHashMap<>();
        if (!Files.isRegularFile(file)) {
            return out;
        }
        try {
            JsonNode scripts = new ObjectMapper().readTree(file.toFile()).path("scripts");
            scripts.fields().forEachRemaining(e -> {
                if (e.getValue().isTextual()) {
                    out.put(e.getKey(), e.getValue().asText());
                }
            });
        } catch (IOException | RuntimeException e) {
            // unreadable: nothing known about its scripts
        }
        return out;
    }
}
