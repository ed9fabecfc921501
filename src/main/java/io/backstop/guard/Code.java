package io.backstop.guard;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Application code run from the command line against the database: ORM one-liners
 * ({@code rails runner 'User.delete_all'}, Django's {@code manage.py shell -c}, {@code node -e}
 * with Prisma or Mongoose), and the SQL inside their strings. Mass deletes, drops and truncates
 * ask; a filtered delete of one record passes.
 */
final class Code {
    private static final List<Pattern[]> MASS = List.of(
            // Rails / ActiveRecord
            new Pattern[] {Pattern.compile("\\.(delete_all|destroy_all|truncate_all|destroy_by|delete_by)\\b")},
            new Pattern[] {Pattern.compile("\\b(drop_table|drop_database|purge|remove_column|drop_schema)\\b")},
            // Django: Model.objects.all().delete(), Model.objects.delete(), .filter().delete() is filtered
            new Pattern[] {Pattern.compile("\\.objects(\\.all\\(\\s*\\))?\\.delete\\(\\s*\\)")},
            new Pattern[] {Pattern.compile("\\bcall_command\\(\\s*['\"](flush|reset_db)['\"]")},
            // Prisma, Mongoose, Sequelize, TypeORM, Knex, Drizzle: deletes with no filter, drops, truncates
            new Pattern[] {Pattern.compile("\\.(deleteMany|deleteAll)\\(\\s*(\\{\\s*(where\\s*:\\s*\\{\\s*\\}\\s*)?\\})?\\s*\\)")},
            new Pattern[] {Pattern.compile("\\.all\\(\\s*\\)\\.delete\\(\\s*\\)")},
            new Pattern[] {Pattern.compile("\\.(remove|destroy)\\(\\s*\\{\\s*(where\\s*:\\s*\\{\\s*\\}|truncate\\s*:\\s*true)?\\s*\\}\\s*\\)")},
            new Pattern[] {Pattern.compile("\\.(dropDatabase|dropCollection|dropTable|dropTableIfExists|dropSchema)\\(|\\.drop\\(\\s*\\)|\\.truncate\\(\\s*\\)|\\.sync\\(\\s*\\{\\s*force\\s*:\\s*true")},
            new Pattern[] {Pattern.compile("\\$(executeRawUnsafe|queryRawUnsafe)\\(")});
    private static final Pattern STRING = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"|'((?:[^'\\\\]|\\\\.)*)'|`([^`]*)`");

    private Code() {
    }

    /** The verdict on code that {@code program} would run. */
    static Verdict judge(String program, String code) {
        for (Pattern[] p : MASS) {
            Matcher m = p[0].matcher(code);
            if (m.find()) {
                return new Verdict(Decision.ASK, program + " would run code that deletes or drops data: "
                        + Engines.abbreviate(code), "code-mass-delete", code.strip());
            }
        }
        Matcher s = STRING.matcher(code);
        while (s.find()) {
            String literal = s.group(1) != null ? s.group(1) : s.group(2) != null ? s.group(2) : s.group(3);
            var sql = Sql.destructive(literal);
            if (sql.isPresent()) {
                return new Verdict(Decision.ASK, program + " would run destructive SQL: " + sql.get()[1], sql.get()[0],
                        sql.get()[1]);
            }
        }
        return Verdict.ALLOW;
    }

    private static final Set<String> RAILS = Set.of("rails", "rake");

    /**
     * Framework shells that run code given on the command line or stdin: {@code rails runner CODE},
     * {@code rails r CODE}, {@code manage.py shell -c CODE} (or piped in). Null when {@code words} is none.
     */
    static Verdict frameworkShell(List<String> words, ShellParser.Command c, ShellParser.Command previous, Path cwd) {
        String program = Unwrap.program(words.get(0));
        List<String> scripts = new ArrayList<>();
        List<String> unreadable = new ArrayList<>();
        String name;
        if (RAILS.contains(program) && words.size() > 1 && Set.of("runner", "r").contains(words.get(1))) {
            List<String> rest = Unwrap.afterOptions(words, 2, Set.of("-e", "--environment"));
            if (rest.isEmpty()) {
                return null;
            }
            if (rest.get(0).endsWith(".rb") || rest.get(0).equals("-")) {
                Engines.read(rest.get(0), cwd, scripts, unreadable);
            } else {
                scripts.add(rest.get(0));
            }
            name = "rails runner";
        } else {
            int manage = -1;
            for (int k = 0; k < Math.min(words.size(), 3); k++) {
                if (words.get(k).endsWith("manage.py") || Unwrap.program(words.get(k)).equals("django-admin")) {
                    manage = k;
                }
            }
            if (manage < 0 || manage + 1 >= words.size() || !Set.of("shell", "shell_plus", "dbshell")
                    .contains(words.get(manage + 1))) {
                return null;
            }
            for (int k = manage + 2; k < words.size(); k++) {
                String w = words.get(k);
                if ((w.equals("-c") || w.equals("--command")) && k + 1 < words.size()) {
                    scripts.add(words.get(++k));
                } else if (w.startsWith("--command=")) {
                    scripts.add(w.substring("--command=".length()));
                }
            }
            name = words.get(manage + 1).equals("dbshell") ? "manage.py dbshell" : "manage.py shell";
            Engines.stdin(c, previous, cwd, scripts, unreadable);
            if (name.equals("manage.py dbshell")) {
                for (String script : scripts) {
                    var sql = Sql.destructive(script);
                    if (sql.isPresent()) {
                        return new Verdict(Decision.ASK, name + " would run destructive SQL: " + sql.get()[1],
                                sql.get()[0], sql.get()[1]);
                    }
                }
                return unreadable.isEmpty() ? Verdict.ALLOW : cannotSee(name, unreadable, words);
            }
        }
        for (String script : scripts) {
            if (Unwrap.dynamic(script) && !program.equals("python")) {
                unreadable.add("text built at run time");
                continue;
            }
            Verdict v = judge(name, script);
            if (v.decision() != Decision.ALLOW) {
                return v;
            }
        }
        return unreadable.isEmpty() ? Verdict.ALLOW : cannotSee(name, unreadable, words);
    }

    private static Verdict cannotSee(String name, List<String> unreadable, List<String> words) {
        return new Verdict(Decision.ASK, name + " runs code the guard cannot read to check (" + String.join(", ",
                unreadable) + ")", "cannot-see-script", String.join(" ", words));
    }
}
