package io.backstop.config;

import static io.backstop.config.SettingsLoader.ROOT;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** Keys the operator wrote that Backstop does not read: each a problem, with the keys allowed where it stands. */
final class UnknownKeys {
    private UnknownKeys() {
    }

    static void reject(Config operator, Config reference, Problems problems) {
        for (String rootKey : operator.root().keySet()) {
            if (!rootKey.equals(ROOT)) {
                problems.add(rootKey, "unknown top-level key; Backstop reads only the `backstop { ... }` block",
                        operator.root().get(rootKey).origin());
            }
        }
        if (!operator.hasPath(ROOT)) {
            return;
        }
        if (operator.getValue(ROOT).valueType() != ConfigValueType.OBJECT) {
            return; // checkValid reports the wrong type
        }
        Config mine = operator.getConfig(ROOT);
        Config known = reference.getConfig(ROOT);
        for (Map.Entry<String, ConfigValue> e : mine.entrySet()) {
            String path = e.getKey();
            if (path.startsWith("row-counts.thresholds.") || path.startsWith("notify.channels")) {
                continue; // keys are table names
            }
            if (!known.hasPathOrNull(path) && !isUnderTargets(path) && !path.startsWith("guard.rules")) {
                problems.add(ROOT + "." + path, "unknown key" + suggestion(path, known), e.getValue().origin());
            }
        }
        if (mine.hasPath("targets") && mine.getValue("targets").valueType() == ConfigValueType.LIST) {
            Set<String> targetKeys = new HashSet<>(known.getConfig("target-defaults").root().keySet());
            targetKeys.add("name");
            targetKeys.add("pitr"); // its keys are checked against backstop.pitr where it is read
            List<? extends ConfigValue> list = mine.getList("targets");
            for (int i = 0; i < list.size(); i++) {
                if (list.get(i) instanceof ConfigObject object) {
                    for (String k : object.keySet()) {
                        if (!targetKeys.contains(k)) {
                            problems.add(ROOT + ".targets[" + i + "]." + k, "unknown key; allowed: "
                                    + String.join(", ", new TreeSet<>(targetKeys)), object.get(k).origin());
                        }
                    }
                }
            }
        }
    }

    private static boolean isUnderTargets(String path) {
        return path.equals("targets") || path.startsWith("targets.");
    }

    private static String suggestion(String path, Config known) {
        String parent = path.contains(".") ? path.substring(0, path.lastIndexOf('.')) : "";
        Set<String> siblings = parent.isEmpty() ? known.root().keySet()
                : known.hasPath(parent) && known.getValue(parent).valueType() == ConfigValueType.OBJECT
                        ? known.getConfig(parent).root().keySet() : Set.of();
        return siblings.isEmpty() ? "" : "; allowed here: " + String.join(", ", new TreeSet<>(siblings));
    }
}
