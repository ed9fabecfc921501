package io.backstop.guard;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every tool family the guard knows, in several spellings, each with near-misses that must stay
 * allow (read-only commands, --dry-run/--pretend/--help, status and list subcommands, migrations
 * forward). Written here, apart from the peer corpus.
 */
class GuardFamiliesTest {
    private static final Guard GUARD = Guard.withRules(Optional.empty());

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(delimiter = '¦', textBlock = """
            # Laravel
            ask   ¦ php artisan migrate:fresh
            ask   ¦ php artisan migrate:fresh --seed --force
            ask   ¦ ./artisan migrate:reset
            ask   ¦ php artisan migrate:refresh --step=3
            ask   ¦ php artisan migrate:rollback
            ask   ¦ php artisan db:wipe --database=pgsql
            ask   ¦ sail artisan migrate:fresh
            ask   ¦ docker compose exec app php artisan db:wipe
            ask   ¦ cd backend && php artisan migrate:fresh
            allow ¦ php artisan migrate
            allow ¦ php artisan migrate --force
            allow ¦ php artisan migrate:status
            allow ¦ php artisan migrate:fresh --pretend
            allow ¦ php artisan migrate:rollback --pretend
            allow ¦ php artisan db:show
            allow ¦ php artisan migrate:fresh --help
            allow ¦ php artisan make:migration create_users_table
            # Ecto
            ask   ¦ mix ecto.reset
            ask   ¦ mix ecto.drop
            ask   ¦ MIX_ENV=test mix ecto.drop
            ask   ¦ mix ecto.rollback --all
            ask   ¦ mix ecto.rollback -n 2
            ask   ¦ mix do ecto.drop, ecto.create
            allow ¦ mix ecto.migrate
            allow ¦ mix ecto.create
            allow ¦ mix ecto.migrations
            allow ¦ mix ecto.gen.migration add_users
            allow ¦ mix test
            # Supabase
            ask   ¦ supabase db reset
            ask   ¦ supabase db reset --linked
            ask   ¦ npx supabase db reset --db-url postgres://x@db/app
            ask   ¦ bunx supabase db reset
            allow ¦ supabase db push
            allow ¦ supabase migration up
            allow ¦ supabase migration list
            allow ¦ supabase db diff
            allow ¦ supabase db reset --help
            allow ¦ supabase status
            # Drizzle
            ask   ¦ drizzle-kit push --force
            ask   ¦ npx drizzle-kit push --force --config drizzle.config.ts
            ask   ¦ pnpm exec drizzle-kit push --force
            ask   ¦ npx drizzle-kit drop
            allow ¦ drizzle-kit push
            allow ¦ drizzle-kit generate
            allow ¦ npx drizzle-kit migrate
            allow ¦ npx drizzle-kit studio
            allow ¦ drizzle-kit check
            # Prisma
            ask   ¦ prisma db push --accept-data-loss
            ask   ¦ npx prisma db push --accept-data-loss
            ask   ¦ npx prisma db push --force-reset --skip-generate
            ask   ¦ yarn prisma migrate reset
            ask   ¦ pnpm prisma migrate reset --force
            ask   ¦ bunx prisma migrate reset -f
            allow ¦ npx prisma db push
            allow ¦ npx prisma migrate deploy
            allow ¦ npx prisma migrate status
            allow ¦ npx prisma generate
            allow ¦ npx prisma studio
            allow ¦ npx prisma db pull
            allow ¦ npx prisma migrate reset --help
            # Django
            ask   ¦ python manage.py flush
            ask   ¦ python3 manage.py flush --noinput
            ask   ¦ ./manage.py flush --database=default
            ask   ¦ django-admin flush --settings=app.settings
            ask   ¦ python manage.py reset_db --noinput
            ask   ¦ python manage.py migrate billing zero
            ask   ¦ docker compose run --rm web python manage.py flush --no-input
            allow ¦ python manage.py migrate
            allow ¦ python manage.py migrate billing 0004
            allow ¦ python manage.py showmigrations
            allow ¦ python manage.py makemigrations
            allow ¦ python manage.py sqlflush
            allow ¦ python manage.py dbshell
            allow ¦ python manage.py flush --help
            # Rails
            ask   ¦ rails db:drop
            ask   ¦ bin/rails db:drop:all
            ask   ¦ rake db:drop:all
            ask   ¦ bundle exec rake db:reset
            ask   ¦ RAILS_ENV=production bin/rails db:schema:load
            ask   ¦ bin/rails db:purge
            ask   ¦ bin/rails db:migrate:reset
            ask   ¦ bin/rails db:rollback STEP=3
            ask   ¦ bin/rails db:seed:replant
            ask   ¦ bin/rails db:truncate_all
            ask   ¦ DISABLE_DATABASE_ENVIRONMENT_CHECK=1 rails db:drop
            allow ¦ bin/rails db:migrate
            allow ¦ bin/rails db:migrate:status
            allow ¦ bin/rails db:create
            allow ¦ bin/rails db:seed
            allow ¦ bin/rails db:version
            allow ¦ rails console
            # Knex, Sequelize, TypeORM, MikroORM
            ask   ¦ npx knex migrate:rollback
            ask   ¦ npx knex migrate:rollback --all
            ask   ¦ knex migrate:down
            ask   ¦ npx sequelize-cli db:drop
            ask   ¦ npx sequelize db:migrate:undo:all
            ask   ¦ npx sequelize-cli db:migrate:undo
            ask   ¦ npx sequelize-cli db:seed:undo:all
            ask   ¦ npx typeorm schema:drop -d src/data-source.ts
            ask   ¦ npm run typeorm -- schema:drop
            ask   ¦ npx typeorm-ts-node-commonjs migration:revert -d src/ds.ts
            ask   ¦ npx typeorm schema:sync
            ask   ¦ npx mikro-orm schema:drop --run
            ask   ¦ npx mikro-orm migration:fresh
            allow ¦ npx knex migrate:latest
            allow ¦ npx knex migrate:status
            allow ¦ npx knex migrate:make add_users
            allow ¦ npx sequelize-cli db:migrate
            allow ¦ npx sequelize-cli db:migrate:status
            allow ¦ npx typeorm migration:run -d src/data-source.ts
            allow ¦ npx typeorm migration:show
            allow ¦ npx typeorm schema:log
            allow ¦ npx mikro-orm migration:up
            # Flyway, Liquibase, goose, dbmate, golang-migrate, sqlx, diesel, dotnet ef, Doctrine, Atlas
            ask   ¦ flyway clean
            ask   ¦ flyway -cleanDisabled=false clean
            ask   ¦ docker run --rm flyway/flyway -url=jdbc:postgresql://db/app clean
            ask   ¦ flyway undo
            ask   ¦ liquibase drop-all
            ask   ¦ liquibase dropAll --url=jdbc:postgresql://db/app
            ask   ¦ liquibase rollback-count 5
            ask   ¦ liquibase rollbackToDate 2026-01-01
            ask   ¦ goose postgres "user=app dbname=app" reset
            ask   ¦ goose -dir migrations postgres $DSN down
            ask   ¦ dbmate drop
            ask   ¦ dbmate rollback
            ask   ¦ migrate -path db/migrations -database $DATABASE_URL down -all
            ask   ¦ migrate -database $DATABASE_URL drop -f
            ask   ¦ sqlx database drop -y
            ask   ¦ sqlx database reset
            ask   ¦ diesel database reset
            ask   ¦ dotnet ef database drop --force
            ask   ¦ php bin/console doctrine:database:drop --force
            ask   ¦ bin/console doctrine:schema:drop --force --full-database
            ask   ¦ php bin/console doctrine:fixtures:load -n
            ask   ¦ atlas schema clean -u postgres://db/app
            allow ¦ flyway migrate
            allow ¦ flyway info
            allow ¦ flyway validate
            allow ¦ liquibase update
            allow ¦ liquibase status
            allow ¦ liquibase rollback-count-sql 5
            allow ¦ goose -dir migrations postgres $DSN up
            allow ¦ goose status
            allow ¦ dbmate up
            allow ¦ dbmate status
            allow ¦ migrate -path db/migrations -database $DATABASE_URL up
            allow ¦ sqlx migrate run
            allow ¦ sqlx database create
            allow ¦ diesel migration run
            allow ¦ dotnet ef database update
            allow ¦ dotnet ef migrations add Init
            allow ¦ php bin/console doctrine:migrations:migrate
            allow ¦ atlas schema inspect -u postgres://db/app
            allow ¦ flyway clean --dry-run
            # Alembic
            ask   ¦ alembic downgrade base
            ask   ¦ alembic downgrade -1
            ask   ¦ poetry run alembic downgrade base
            ask   ¦ uv run alembic downgrade 3ae4
            allow ¦ alembic upgrade head
            allow ¦ alembic history
            allow ¦ alembic current
            allow ¦ alembic revision --autogenerate -m add
            # Docker, Podman, nerdctl volumes
            ask   ¦ podman volume rm pgdata
            ask   ¦ podman volume prune -f
            ask   ¦ podman volume rm --all
            ask   ¦ sudo podman volume prune
            ask   ¦ podman system prune --volumes
            ask   ¦ podman system reset --force
            ask   ¦ podman-compose down -v
            ask   ¦ podman compose down --volumes
            ask   ¦ nerdctl volume rm db-data
            ask   ¦ docker volume rm $(docker volume ls -q)
            ask   ¦ docker-compose down --volumes --remove-orphans
            ask   ¦ docker compose -f docker-compose.prod.yml down -v
            allow ¦ podman volume ls
            allow ¦ podman volume inspect pgdata
            allow ¦ podman volume create pgdata
            allow ¦ podman ps -a
            allow ¦ podman-compose down
            allow ¦ podman system df
            allow ¦ docker volume ls
            allow ¦ docker volume inspect app_pgdata
            allow ¦ docker compose down --remove-orphans
            allow ¦ docker compose logs -f db
            # rm of data directories and database files
            ask   ¦ rm -rf .pg_data
            ask   ¦ rm -rf ./postgres_data
            ask   ¦ rm -rf _data
            ask   ¦ rm -rf ./.postgres-data/
            ask   ¦ rm -rf docker/volumes/db/data
            ask   ¦ rm -rf ./mysql_data
            ask   ¦ rm -rf mongo-data
            ask   ¦ sudo rm -rf /var/lib/mysql
            ask   ¦ rm -rf /var/lib/postgresql/15/main /var/lib/postgresql/data
            ask   ¦ rm -Rf pgdata
            ask   ¦ rm --recursive --force ./db-data
            ask   ¦ rm db.sqlite3
            ask   ¦ rm -f prisma/dev.db
            ask   ¦ find . -name '*.log' -delete && rm -f app.sqlite
            block ¦ rm -rf backups/
            block ¦ rm -rf /srv/app/backups
            allow ¦ rm -rf node_modules
            allow ¦ rm -rf ./dist ./build
            allow ¦ rm -rf .next/cache
            allow ¦ rm -rf tmp/cache
            allow ¦ rm -f /tmp/app.pid
            allow ¦ rm data.csv
            allow ¦ ls -la .pg_data
            allow ¦ du -sh ./postgres_data
            allow ¦ rm -rf coverage .pytest_cache
            # SQL: always-true conditions, and the other objects DROP removes
            ask   ¦ psql -c "DELETE FROM users WHERE 1=1"
            ask   ¦ psql -c "DELETE FROM users WHERE true"
            ask   ¦ psql -c "delete from users where 1 = 1 returning id"
            ask   ¦ psql -c "DELETE FROM users WHERE id = id"
            ask   ¦ psql -c "DELETE FROM users WHERE name = 'x' OR 1=1"
            ask   ¦ psql -c "UPDATE users SET email = NULL WHERE 1=1"
            ask   ¦ psql -c "UPDATE users SET active = false WHERE 2 > 1"
            ask   ¦ psql -c "DELETE FROM users WHERE (1=1)"
            ask   ¦ psql -c "DROP VIEW active_users"
            ask   ¦ psql -c "DROP MATERIALIZED VIEW stats"
            ask   ¦ psql -c "DROP SEQUENCE users_id_seq"
            ask   ¦ psql -c "DROP EXTENSION postgis CASCADE"
            ask   ¦ psql -c "DROP TYPE mood CASCADE"
            ask   ¦ psql -c "DROP OWNED BY app_user"
            ask   ¦ psql -c "DROP TRIGGER audit ON orders"
            ask   ¦ psql -c "DROP FUNCTION audit_it() CASCADE"
            allow ¦ psql -c "DELETE FROM users WHERE id = 7"
            allow ¦ psql -c "DELETE FROM users WHERE created_at < now() - interval '1 year'"
            allow ¦ psql -c "UPDATE users SET name = 'x' WHERE id = 1 OR id = 2"
            allow ¦ psql -c "DELETE FROM t WHERE 1 = 0"
            allow ¦ psql -c "DROP INDEX CONCURRENTLY users_email_idx"
            allow ¦ psql -c "SELECT * FROM users WHERE 1=1"
            allow ¦ psql -c "CREATE VIEW v AS SELECT 1"
            # MySQL and MariaDB
            ask   ¦ mysql -u root -p app -e "DROP TABLE orders"
            ask   ¦ mysql --execute="TRUNCATE TABLE sessions" app
            ask   ¦ mysql -eDROP\\ DATABASE\\ app
            ask   ¦ mariadb -e "DELETE FROM users"
            ask   ¦ mysql -h db -e "UPDATE users SET password = NULL"
            ask   ¦ mysql app <<< "DROP TABLE users"
            ask   ¦ echo "DELETE FROM users" | mysql app
            ask   ¦ docker compose exec db mysql -uroot -proot -e "DROP DATABASE app"
            ask   ¦ mysql -e "DELETE FROM users WHERE 1"
            ask   ¦ mysqladmin -uroot drop app
            ask   ¦ mysqladmin -f drop app
            ask   ¦ mysqladmin shutdown
            ask   ¦ mysqladmin flush-logs
            ask   ¦ mysqladmin kill 42
            allow ¦ mysql -e "SELECT count(*) FROM users" app
            allow ¦ mysql -e "SHOW TABLES"
            allow ¦ mysql -e "DELETE FROM sessions WHERE id = 3"
            allow ¦ mysql -e "INSERT INTO t VALUES (1)"
            allow ¦ mysql -u root -p
            allow ¦ mysql -e "SELECT 'DROP TABLE users'"
            allow ¦ mariadb -e "SHOW DATABASES"
            allow ¦ mysqladmin status
            allow ¦ mysqladmin ping
            allow ¦ mysqladmin processlist
            allow ¦ mysqladmin create app
            allow ¦ mysqldump app > app.sql
            # SQLite
            ask   ¦ sqlite3 app.db "DROP TABLE users"
            ask   ¦ sqlite3 -bail app.db "DELETE FROM users"
            ask   ¦ sqlite3 app.db "UPDATE users SET admin = 1"
            ask   ¦ sqlite3 app.db <<< "DROP TABLE users"
            ask   ¦ echo "DELETE FROM users;" | sqlite3 app.db
            ask   ¦ sqlite3 -cmd "DROP TABLE t" app.db ".tables"
            allow ¦ sqlite3 app.db ".tables"
            allow ¦ sqlite3 app.db "SELECT count(*) FROM users"
            allow ¦ sqlite3 app.db ".schema users"
            allow ¦ sqlite3 app.db "DELETE FROM sessions WHERE expires < 100"
            allow ¦ sqlite3 app.db
            # MongoDB
            ask   ¦ mongosh --eval "db.dropDatabase()"
            ask   ¦ mongosh mongodb://db/app --eval "db.getSiblingDB('app').dropDatabase()"
            ask   ¦ mongosh --quiet --eval 'db.orders.drop()'
            ask   ¦ mongosh --eval "db.getCollection('users').deleteMany({})"
            ask   ¦ mongosh --eval "db.users.deleteMany( { } )"
            ask   ¦ mongosh --eval="db.users.remove({})"
            ask   ¦ mongo app --eval "db.users.remove({})"
            ask   ¦ mongosh --eval "db.users.updateMany({}, {\\$set: {active: false}})"
            ask   ¦ echo 'db.dropDatabase()' | mongosh app
            ask   ¦ mongosh app <<< "db.sessions.drop()"
            ask   ¦ mongorestore --drop dump/
            ask   ¦ mongorestore --uri mongodb://db --drop --nsInclude 'app.*' dump
            allow ¦ mongosh --eval "db.users.find({}).count()"
            allow ¦ mongosh --eval "db.users.deleteMany({expired: true})"
            allow ¦ mongosh --eval "db.users.deleteOne({_id: 1})"
            allow ¦ mongosh --eval "print('db.dropDatabase() is dangerous')"
            allow ¦ mongosh --eval "// db.dropDatabase()\\ndb.stats()"
            allow ¦ mongosh mongodb://localhost:27017/app
            allow ¦ mongodump --out dump/
            allow ¦ mongorestore dump/
            # Redis
            ask   ¦ redis-cli flushall
            ask   ¦ redis-cli -n 2 FLUSHDB ASYNC
            ask   ¦ redis-cli -h cache -p 6380 -a secret FLUSHALL
            ask   ¦ redis-cli DEL session:1 session:2
            ask   ¦ redis-cli UNLINK bigkey
            ask   ¦ redis-cli CONFIG SET appendonly no
            ask   ¦ redis-cli SHUTDOWN NOSAVE
            ask   ¦ redis-cli REPLICAOF other-host 6379
            ask   ¦ redis-cli SCRIPT FLUSH
            ask   ¦ docker compose exec redis redis-cli FLUSHALL
            allow ¦ redis-cli PING
            allow ¦ redis-cli GET session:1
            allow ¦ redis-cli INFO memory
            allow ¦ redis-cli CONFIG GET maxmemory
            allow ¦ redis-cli --scan --pattern 'user:*'
            allow ¦ redis-cli SET k v
            allow ¦ redis-cli MONITOR
            # Managed databases
            ask   ¦ aws rds delete-db-instance --db-instance-identifier prod --skip-final-snapshot
            ask   ¦ aws rds delete-db-cluster --db-cluster-identifier prod
            ask   ¦ aws rds delete-db-snapshot --db-snapshot-identifier nightly
            ask   ¦ aws dynamodb delete-table --table-name orders
            ask   ¦ gcloud sql instances delete prod-db
            ask   ¦ gcloud sql databases delete app --instance=prod-db
            ask   ¦ gcloud sql backups delete 1234 --instance=prod-db
            ask   ¦ gcloud sql instances restore-backup prod-db --restore-instance=prod-db --backup-id=1
            ask   ¦ heroku pg:reset DATABASE_URL --confirm myapp
            ask   ¦ heroku pg:reset --app myapp
            ask   ¦ heroku addons:destroy heroku-postgresql -a myapp
            ask   ¦ az postgres flexible-server delete --name prod --resource-group rg --yes
            ask   ¦ az sql db delete --name app --server s --resource-group rg
            ask   ¦ doctl databases delete 9cc10173
            ask   ¦ fly postgres destroy my-db
            ask   ¦ neonctl branches delete main
            ask   ¦ pscale database delete app --force
            allow ¦ aws rds describe-db-instances
            allow ¦ aws rds create-db-snapshot --db-instance-identifier prod --db-snapshot-identifier pre-migration
            allow ¦ aws s3 ls
            allow ¦ gcloud sql instances list
            allow ¦ gcloud sql backups create --instance=prod-db
            allow ¦ heroku pg:info
            allow ¦ heroku pg:backups:capture
            allow ¦ heroku pg:psql -c "select 1"
            allow ¦ az postgres flexible-server show --name prod --resource-group rg
            allow ¦ doctl databases list
            allow ¦ fly postgres connect -a my-db
            allow ¦ neonctl branches list
            # read-only and print-only near-misses across families
            allow ¦ dropdb --help
            allow ¦ pg_restore --list app.dump
            allow ¦ pg_restore -l app.dump
            allow ¦ docker volume rm --help
            allow ¦ echo "run php artisan migrate:fresh later"
            allow ¦ grep -rn "deleteMany({})" src/
            allow ¦ git commit -m "never run redis-cli FLUSHALL in prod"
            allow ¦ man mysqladmin
            allow ¦ which dropdb
            allow ¦ cat scripts/reset-db.sh
            """)
    void classifies(String expected, String line) {
        Verdict v = GUARD.classify(line.replace("\\\\n", "\n"));
        assertThat(v.decision().word()).as(line + " → " + v).isEqualTo(expected);
        if (!expected.equals("allow")) {
            assertThat(v.reason()).isNotBlank();
            assertThat(v.rule()).isNotBlank();
        }
    }

    /** `backstop guard -- psql -c "DELETE FROM users"`: the shell removed the quotes; the argv is judged as it is. */
    @ParameterizedTest(name = "argv {0}")
    @CsvSource(delimiter = '¦', textBlock = """
            ask   ¦ psql|-c|DELETE FROM users
            ask   ¦ psql|-c|DROP TABLE orders
            ask   ¦ psql|--command=DELETE FROM users
            ask   ¦ psql|--command|TRUNCATE orders
            ask   ¦ psql|-h|db|-U|app|-cDELETE FROM users
            ask   ¦ sudo|-u|postgres|psql|-c|DROP DATABASE app
            ask   ¦ docker|compose|exec|db|psql|-c|DELETE FROM users
            ask   ¦ bash|-c|psql -c 'DELETE FROM users'
            ask   ¦ mysql|-e|DROP DATABASE app
            ask   ¦ sqlite3|app.db|DELETE FROM users
            ask   ¦ mongosh|--eval|db.dropDatabase()
            ask   ¦ docker|compose|down|-v
            ask   ¦ psql -c "DELETE FROM users"
            allow ¦ psql|-c|DELETE FROM users WHERE id = 1
            allow ¦ psql|-c|SELECT 'DROP TABLE users'
            allow ¦ psql|-c|-- DROP TABLE users
            allow ¦ echo|DROP TABLE users
            allow ¦ git|commit|-m|DROP TABLE users
            allow ¦ docker|compose|down
            """)
    void anArgumentVectorIsJudgedWithoutSplittingItAgain(String expected, String argv) {
        List<String> words = List.of(argv.split("\\|"));
        Verdict v = GUARD.classifyArgv(words);
        assertThat(v.decision().word()).as(words + " → " + v).isEqualTo(expected);
    }

    @Test
    void hookModeRefusesADuplicatedCommandKeyAndInputThatIsNotUtf8() {
        Hook.Call duplicated = Hook.read(("{\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"ls\","
                + "\"command\":\"psql -c 'DROP TABLE users'\"}}").getBytes(StandardCharsets.UTF_8));
        assertThat(duplicated.refusal()).isNotNull();
        assertThat(duplicated.refusal().decision()).isEqualTo(Decision.BLOCK);
        assertThat(duplicated.refusal().reason()).contains("Duplicate field", "command");
        Hook.Call twoTools = Hook.read("{\"tool_name\":\"Bash\",\"tool_name\":\"Read\",\"tool_input\":{\"command\":\"ls\"}}"
                .getBytes(StandardCharsets.UTF_8));
        assertThat(twoTools.refusal()).isNotNull();
        byte[] latin1 = "{\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"echo caf\u00e9\"}}"
                .getBytes(StandardCharsets.ISO_8859_1);
        Hook.Call notUtf8 = Hook.read(latin1);
        assertThat(notUtf8.refusal()).isNotNull();
        assertThat(notUtf8.refusal().reason()).contains("not valid UTF-8");
        Hook.Call fine = Hook.read("{\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"echo caf\u00e9\"}}"
                .getBytes(StandardCharsets.UTF_8));
        assertThat(fine.refusal()).isNull();
        assertThat(fine.command()).isEqualTo("echo caf\u00e9");
    }
}
