package io.backstop.restore;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A restore that failed on a role this server lacks: which role, and the globals file that has it. */
final class MissingRoles {
    private static final Pattern MISSING = Pattern.compile("role \"((?:[^\"]|\"\")+)\" does not exist");

    private MissingRoles() {
    }

    /** Empty when {@code message} names no missing role; else a line naming each and where it is. */
    static String explain(String message, Path globals, boolean withRoles) {
        Set<String> roles = new LinkedHashSet<>();
        Matcher m = MISSING.matcher(message == null ? "" : message);
        while (m.find()) {
            roles.add(m.group(1));
        }
        if (roles.isEmpty()) {
            return "";
        }
        StringBuilder b = new StringBuilder();
        for (String role : roles) {
            b.append("\n    role \"").append(role).append("\" does not exist on this server; ");
            if (!Files.isRegularFile(globals)) {
                b.append("no globals file is beside this backup: create the role by hand, then restore again");
            } else if (globals.getFileName().toString().endsWith(".age") || has(globals, role)) {
                b.append("the globals file ").append(globals).append(withRoles
                        ? " has it, but it could not be created (see the notes above)"
                        : " has it: restore again with --with-roles");
            } else {
                b.append("the globals file ").append(globals).append(" does not have it (it was created after this"
                        + " backup): create it by hand, then restore again");
            }
        }
        return b.toString();
    }

    private static boolean has(Path globals, String role) {
        try {
            String sql = Files.readString(globals, StandardCharsets.UTF_8);
            String quoted = "\"" + role.replace("\"", "\"\"") + "\"";
            return sql.contains("CREATE ROLE " + role + ";") || sql.contains("CREATE ROLE " + quoted + ";");
        } catch (IOException e) {
            return false;
        }
    }
}
