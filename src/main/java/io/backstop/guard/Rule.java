package io.backstop.guard;

import java.util.List;
import java.util.regex.Pattern;

/** One rule of the guard (see guard-rules.conf for the shape and the meaning of each field). */
record Rule(String name, Decision decision, List<String> command, List<String> anyFlag, List<String> allFlags,
        Pattern path, String reason, String example) {

    /** Whether the unwrapped command's words match. */
    boolean matches(List<String> words) {
        List<String> positional = words.stream().filter(w -> !w.startsWith("-")).toList();
        int at = 0;
        for (String wanted : command) {
            boolean found = false;
            while (at < positional.size()) {
                if (wordMatches(wanted, positional.get(at++))) {
                    found = true;
                    break;
                }
            }
            if (!found) {
                return false;
            }
        }
        if (!anyFlag.isEmpty() && anyFlag.stream().noneMatch(f -> hasFlag(words, f))) {
            return false;
        }
        for (String alternatives : allFlags) {
            boolean any = false;
            for (String f : alternatives.split("\\|")) {
                any |= hasFlag(words, f);
            }
            if (!any) {
                return false;
            }
        }
        return path == null || positional.stream().skip(1).anyMatch(w -> path.matcher(w).find());
    }

    private static boolean wordMatches(String wanted, String word) {
        String bare = word.endsWith(",") ? word.substring(0, word.length() - 1) : word; // mix do a, b
        String base = bare.contains("/") ? bare.substring(bare.lastIndexOf('/') + 1) : bare;
        // kubectl's TYPE/NAME (pvc/data-0) names its type first; a path (./bin/rails) its program last.
        String type = bare.indexOf('/') > 0 ? bare.substring(0, bare.indexOf('/')) : null;
        int at = base.indexOf('@', 1);
        String unversioned = at > 0 ? base.substring(0, at) : base; // prisma@5
        for (String alternative : wanted.split("\\|")) {
            String a = alternative.toLowerCase(java.util.Locale.ROOT);
            for (String candidate : type == null ? List.of(base, unversioned) : List.of(base, unversioned, type)) {
                String b = candidate.toLowerCase(java.util.Locale.ROOT);
                if (a.endsWith("*") ? b.startsWith(a.substring(0, a.length() - 1)) : b.equals(a)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** "-v" is present as "-v", inside a short cluster like "-fv", or "--volumes" as itself or "--volumes=..". */
    static boolean hasFlag(List<String> words, String flag) {
        for (String w : words) {
            if (w.equals(flag) || (flag.startsWith("--") && w.startsWith(flag + "="))) {
                return true;
            }
            if (flag.length() == 2 && flag.charAt(0) == '-' && w.length() > 2 && w.charAt(0) == '-'
                    && w.charAt(1) != '-' && w.indexOf('=') < 0 && w.substring(1).indexOf(flag.charAt(1)) >= 0
                    && w.substring(1).chars().allMatch(Character::isLetter)) {
                return true;
            }
        }
        return false;
    }
}
