package io.backstop.cli;

import io.backstop.restore.Restore;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;

/** The confirmation restore and recover ask for: type the database's name (or --yes, which skips it). */
final class TypedConfirmation {
    private TypedConfirmation() {
    }

    static Restore.Confirmation of(boolean yes, PrintWriter err) {
        if (yes) {
            return Restore.Confirmation.GIVEN;
        }
        return (db, what) -> {
            err.printf("This will %s.%nType the database name (%s) to continue: ", what, db);
            err.flush();
            try {
                String typed = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
                return db.equals(typed == null ? null : typed.strip());
            } catch (IOException e) {
                return false;
            }
        };
    }
}
