package io.backstop.restore;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading pg_dumpall's globals: statements, quoted names, psql's meta-commands; and naming a missing role. */
class RolesTest {
    @TempDir
    Path dir;

    @Test
    void statementsEndOutsideQuotesAndMetaCommandsAndCommentsAreLeftOut() {
        String sql = String.join("\n",
                "--",
                "-- PostgreSQL database cluster dump",
                "--",
                "",
                "\\restrict abc123",
                "",
                "SET default_transaction_read_only = off;",
                "CREATE ROLE \"Odd; \"\"Name\"\"\";",
                "ALTER ROLE \"Odd; \"\"Name\"\"\" WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:a;b$c';",
                "COMMENT ON ROLE app IS 'multi",
                "line; comment';",
                "GRANT \"Odd; \"\"Name\"\"\" TO app WITH INHERIT TRUE GRANTED BY postgres;",
                "",
                "\\unrestrict abc123",
                "");
        assertThat(Roles.split(sql)).containsExactly(
                "SET default_transaction_read_only = off;",
                "CREATE ROLE \"Odd; \"\"Name\"\"\";",
                "ALTER ROLE \"Odd; \"\"Name\"\"\" WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:a;b$c';",
                "COMMENT ON ROLE app IS 'multi\nline; comment';",
                "GRANT \"Odd; \"\"Name\"\"\" TO app WITH INHERIT TRUE GRANTED BY postgres;");
        assertThat(Roles.unquote("\"Odd; \"\"Name\"\"\"")).isEqualTo("Odd; \"Name\"");
        assertThat(Roles.unquote("App_Owner")).as("unquoted names fold to lower case").isEqualTo("app_owner");
    }

    @Test
    void aMissingRoleIsNamedWithTheGlobalsFileThatHasItOrSaysItHasNot() throws Exception {
        Path globals = Files.writeString(dir.resolve("app-20261207T000000Z-globals.sql"),
                "CREATE ROLE app_owner;\nCREATE ROLE \"Report Reader\";\n");
        String message = "pg_restore: error: could not execute query: ERROR:  role \"app_owner\" does not exist\n"
                + "ERROR:  role \"Report Reader\" does not exist\nERROR:  role \"later_role\" does not exist";
        String said = MissingRoles.explain(message, globals, false);
        assertThat(said).contains("role \"app_owner\" does not exist on this server; the globals file " + globals
                + " has it: restore again with --with-roles")
                .contains("role \"Report Reader\" does not exist on this server; the globals file " + globals + " has it")
                .contains("role \"later_role\" does not exist on this server; the globals file " + globals
                        + " does not have it (it was created after this backup)");
        assertThat(MissingRoles.explain("relation \"x\" does not exist", globals, false)).isEmpty();
        assertThat(MissingRoles.explain(message, dir.resolve("none-globals.sql"), false))
                .contains("no globals file is beside this backup");
    }
}
