package io.backstop.guard;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GuardTest {
    private static final Guard GUARD = Guard.withRules(Optional.empty());

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(delimiter = '¦', textBlock = """
            # destructive SQL through psql, in many spellings
            ask   ¦ psql -c "DELETE FROM users"
            ask   ¦ psql -c 'delete from users;'
            ask   ¦ psql   -U postgres   -d app   -c   "DELETE   FROM   users"
            ask   ¦ psql --command="DELETE FROM public.users" app
            ask   ¦ psql --command "TRUNCATE orders"
            ask   ¦ psql -d app -c 'SELECT 1; DROP TABLE users; SELECT 2'
            ask   ¦ psql -c "drop table if exists users cascade"
            ask   ¦ psql -c "DROP SCHEMA billing CASCADE"
            ask   ¦ psql -c "DROP DATABASE app"
            ask   ¦ psql -c "UPDATE users SET admin = true"
            ask   ¦ psql -c "ALTER TABLE users DROP COLUMN email"
            ask   ¦ psql -c "alter table users drop email"
            ask   ¦ psql -c "truncate table sessions restart identity"
            ask   ¦ psql -c "WITH x AS (SELECT 1) DELETE FROM users"
            ask   ¦ psql -c "/* cleanup */ DELETE FROM users -- all of them"
            ask   ¦ /usr/bin/psql -cTRUNCATE\\ users
            ask   ¦ psql -h db app <<< "DELETE FROM users"
            ask   ¦ echo "DELETE FROM users" | psql app
            ask   ¦ echo 'TRUNCATE users' | psql -h db -U postgres
            ask   ¦ printf 'DROP TABLE users;' | psql
            ask   ¦ sudo -u postgres psql -c "DROP DATABASE app"
            ask   ¦ env PGPASSWORD=x psql -c "DELETE FROM users"
            ask   ¦ PGHOST=db psql -c "DELETE FROM users"
            ask   ¦ docker exec -it db psql -U postgres -c "DROP TABLE users"
            ask   ¦ docker exec -i -e PGPASSWORD=x db psql -U app -c 'TRUNCATE orders'
            ask   ¦ docker compose exec db psql -U postgres -c "DELETE FROM users"
            ask   ¦ docker compose exec -T db psql -c "DROP SCHEMA public CASCADE"
            ask   ¦ docker-compose exec db psql -c "DELETE FROM users"
            ask   ¦ kubectl exec -it pg-0 -- psql -c "DROP TABLE users"
            ask   ¦ bash -c "psql -c 'DELETE FROM users'"
            ask   ¦ sh -c 'docker compose down -v'
            ask   ¦ ls && psql -c "DELETE FROM users"
            ask   ¦ cd /app; psql -c "TRUNCATE users" || true
            ask   ¦ psql -c "DELETE FROM users" \\\\n  -d app
            ask   ¦ echo $(psql -c "DELETE FROM users")
            # docker volumes and compose
            ask   ¦ docker volume rm app_pgdata
            ask   ¦ docker volume rm -f app_pgdata other
            ask   ¦ docker volume prune
            ask   ¦ docker volume prune -f -a
            ask   ¦ sudo docker volume rm app_pgdata
            ask   ¦ docker system prune --volumes
            ask   ¦ docker system prune -a -f
            ask   ¦ docker system prune --all
            ask   ¦ docker compose down -v
            ask   ¦ docker compose down --volumes
            ask   ¦ docker compose down --remove-orphans -v
            ask   ¦ docker compose -f docker-compose.prod.yml down -v
            ask   ¦ docker compose down -tv
            ask   ¦ docker-compose down -v
            ask   ¦ docker \\\\n  compose down \\\\n  --volumes
            ask   ¦ echo app_pgdata | xargs docker volume rm
            # ORMs and frameworks
            ask   ¦ prisma db push --force-reset
            ask   ¦ npx prisma db push --force-reset
            ask   ¦ npx prisma db push --accept-data-loss --force-reset
            ask   ¦ pnpm exec prisma db push --force-reset
            ask   ¦ yarn prisma migrate reset
            ask   ¦ npx prisma migrate reset --force
            ask   ¦ alembic downgrade base
            ask   ¦ alembic downgrade -1
            ask   ¦ alembic downgrade-1
            ask   ¦ poetry run alembic downgrade base
            ask   ¦ rails db:drop
            ask   ¦ bin/rails db:reset
            ask   ¦ bundle exec rake db:drop db:create
            ask   ¦ RAILS_ENV=production rails db:schema:load
            ask   ¦ python manage.py flush --noinput
            ask   ¦ dropdb app
            ask   ¦ dropdb -h db -U postgres --if-exists app
            ask   ¦ sudo -u postgres dropdb app
            ask   ¦ pg_restore --clean -d app app.dump
            # deleting files
            block ¦ rm -rf ./backups
            block ¦ rm -rf backups/
            block ¦ rm -fr /srv/app/backups/app/hourly
            block ¦ sudo rm -r -f /backups
            block ¦ rm --recursive --force ./backup
            ask   ¦ rm -rf /var/lib/postgresql/data
            ask   ¦ sudo rm -rf ./pgdata
            ask   ¦ rm -rf postgres-data
            ask   ¦ rm -Rf /var/lib/docker/volumes/app_pgdata
            # read-only and harmless: near-misses that must pass
            allow ¦ ls -la
            allow ¦ psql -c "SELECT count(*) FROM users"
            allow ¦ psql -c "DELETE FROM users WHERE id = 1"
            allow ¦ psql -c "delete from users where created_at < now() - interval '1 year'"
            allow ¦ psql -c "UPDATE users SET name = 'x' WHERE id = 1"
            allow ¦ psql -c "INSERT INTO users VALUES (1, 'DROP TABLE users')"
            allow ¦ psql -c "SELECT 'TRUNCATE x'"
            allow ¦ psql -c "ALTER TABLE users ADD COLUMN email text"
            allow ¦ psql -c "ALTER TABLE users ALTER COLUMN email DROP DEFAULT"
            allow ¦ psql -c "ALTER TABLE users DROP CONSTRAINT users_email_key"
            allow ¦ psql -c "CREATE TABLE dropped_items(id int)"
            allow ¦ psql -c "\\d users"
            allow ¦ psql app
            allow ¦ pg_dump -Fc app > app.dump
            allow ¦ pg_restore -l app.dump
            allow ¦ echo "DROP TABLE users" >> notes.log
            allow ¦ echo "DELETE FROM users" > /tmp/plan.sql
            allow ¦ grep TRUNCATE migrations/*.sql
            allow ¦ grep -r "DROP TABLE" .
            allow ¦ git commit -m "DROP TABLE users is gone"
            allow ¦ docker volume ls
            allow ¦ docker volume inspect app_pgdata
            allow ¦ docker volume create app_pgdata
            allow ¦ docker compose down
            allow ¦ docker compose down --remove-orphans
            allow ¦ docker compose up -d
            allow ¦ docker compose logs -f backup
            allow ¦ docker system prune
            allow ¦ docker system df
            allow ¦ prisma db push
            allow ¦ npx prisma migrate deploy
            allow ¦ npx prisma migrate dev
            allow ¦ alembic upgrade head
            allow ¦ rails db:migrate
            allow ¦ createdb app
            allow ¦ rm notes.txt
            allow ¦ rm -rf node_modules
            allow ¦ rm -rf ./build/data.csv
            allow ¦ rm backups.txt
            allow ¦ cat backups/README
            allow ¦ echo psql -c DELETE
            allow ¦ backstop backup --label pre-migration
            """)
    void classifies(String expected, String line) {
        Verdict v = GUARD.classify(line.replace("\\n", "\n"));
        assertThat(v.decision().word()).as(line + " → " + v).isEqualTo(expected);
        if (!expected.equals("allow")) {
            assertThat(v.reason()).isNotBlank();
            assertThat(v.rule()).isNotBlank();
        }
    }

    @Test
    void everyRuleHasAnExampleThatItCatches() {
        assertThat(GUARD.rules()).hasSizeGreaterThanOrEqualTo(12);
        for (Rule rule : GUARD.rules()) {
            assertThat(rule.example()).as(rule.name()).isNotBlank();
            Verdict v = GUARD.classify(rule.example());
            assertThat(v.rule()).as(rule.example()).isEqualTo(rule.name());
            assertThat(v.decision()).isEqualTo(rule.decision());
        }
    }

    @Test
    void psqlFilesAndStdinRedirectsAreReadAndJudged(@TempDir Path dir) throws Exception {
        Path bad = Files.writeString(dir.resolve("down.sql"), "BEGIN;\n-- remove the old table\nDROP TABLE legacy;\nCOMMIT;\n");
        Path good = Files.writeString(dir.resolve("up.sql"), "CREATE TABLE t(id int);\nINSERT INTO t VALUES (1);\n");
        assertThat(GUARD.classify("psql -f " + bad).decision()).isEqualTo(Decision.ASK);
        assertThat(GUARD.classify("psql --file=" + bad).rule()).isEqualTo("sql-drop-table");
        assertThat(GUARD.classify("psql app < " + bad).decision()).isEqualTo(Decision.ASK);
        assertThat(GUARD.classify("cat " + bad + " | psql app").decision()).isEqualTo(Decision.ASK);
        assertThat(GUARD.classify("psql -f " + good).decision()).isEqualTo(Decision.ALLOW);
        assertThat(GUARD.classify("psql app < " + good).decision()).isEqualTo(Decision.ALLOW);
        Verdict missing = GUARD.classify("psql -f " + dir.resolve("nope.sql"));
        assertThat(missing.decision()).as("SQL it cannot read is not waved through").isEqualTo(Decision.ASK);
        assertThat(missing.reason()).contains("cannot read", "nope.sql");
        assertThat(GUARD.classify("psql app <<EOF\nSELECT 1;\nDELETE FROM users;\nEOF\n").decision()).isEqualTo(Decision.ASK);
        assertThat(GUARD.classify("psql app <<'SQL'\nSELECT 1;\nSQL\necho done").decision()).isEqualTo(Decision.ALLOW);
    }

    @Test
    void operatorsCanAddRules(@TempDir Path dir) throws Exception {
        Path conf = Files.writeString(dir.resolve("backstop.conf"), """
                backstop.guard.rules = [
                  { name = no-prod, decision = block, command = [psql], path = "prod", reason = "never psql into prod", example = "psql prod" }
                ]
                """);
        Guard guard = Guard.withRules(Optional.of(conf));
        assertThat(guard.classify("psql -h prod-db.internal app").decision()).isEqualTo(Decision.BLOCK);
        assertThat(guard.classify("psql -h prod-db.internal app").reason()).isEqualTo("never psql into prod");
        assertThat(guard.classify("psql -h staging app").decision()).isEqualTo(Decision.ALLOW);

        Path bad = Files.writeString(dir.resolve("bad.conf"), "backstop.guard.rules = [ { name = x, decision = maybe, command = [a], reason = r } ]\n");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Guard.withRules(Optional.of(bad)))
                .hasMessageContaining("backstop.guard.rules[0].decision: must be ask or block");
    }

    @ParameterizedTest(name = "hook refuses: {0}")
    @CsvSource(delimiter = '¦', textBlock = """
            empty               ¦ ''                                                   ¦ empty input
            blank               ¦ '   '                                                ¦ empty input
            malformed           ¦ '{"tool_name": "Bash", "tool_input": {"command": '   ¦ malformed JSON
            not an object       ¦ '["Bash"]'                                           ¦ not a JSON object
            trailing garbage    ¦ '{"tool_name":"Bash","tool_input":{"command":"ls"}} x' ¦ malformed JSON
            no command          ¦ '{"tool_name":"Bash","tool_input":{}}'               ¦ no tool_input.command
            """)
    void hookFailsClosed(String title, String input, String reason) throws Exception {
        Hook.Call call = Hook.read(input);
        assertThat(call.refusal()).isNotNull();
        JsonNode answer = new ObjectMapper().readTree(Hook.answer(call.refusal()).orElseThrow());
        assertThat(answer.at("/hookSpecificOutput/permissionDecision").asText()).isEqualTo("deny");
        assertThat(answer.at("/hookSpecificOutput/hookEventName").asText()).isEqualTo("PreToolUse");
        assertThat(answer.at("/hookSpecificOutput/permissionDecisionReason").asText()).contains(reason);
    }

    @ParameterizedTest(name = "hook answers {1} for {0}")
    @CsvSource(delimiter = '¦', textBlock = """
            docker compose down -v        ¦ ask
            rm -rf ./backups              ¦ deny
            psql -c \\"DELETE FROM users\\" ¦ ask
            """)
    void hookAnswersInItsOwnJsonShape(String command, String decision) throws Exception {
        String input = "{\"session_id\":\"s\",\"hook_event_name\":\"PreToolUse\",\"tool_name\":\"Bash\","
                + "\"tool_input\":{\"command\":\"" + command + "\",\"description\":\"d\"}}";
        Hook.Call call = Hook.read(input);
        assertThat(call.refusal()).isNull();
        JsonNode answer = new ObjectMapper().readTree(Hook.answer(GUARD.classify(call.command())).orElseThrow());
        assertThat(answer.at("/hookSpecificOutput/permissionDecision").asText()).isEqualTo(decision);
        assertThat(answer.at("/hookSpecificOutput/permissionDecisionReason").asText()).startsWith("backstop guard: ");
    }
}
