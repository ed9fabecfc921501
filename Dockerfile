# Backstop sidecar image.
#
#   docker build .                                    # users: newest client/server from the PostgreSQL apt repository
#   docker build --build-arg PG_SOURCE=debian --build-arg PG_MAJOR=15 .   # offline-friendly: Debian's own packages
#   docker build --build-arg BASE=debian:trixie-slim --build-arg PG_SOURCE=debian --build-arg PG_MAJOR=17 .
#
# pg_dump dumps servers up to its own major, so PG_MAJOR should be the newest released major (at
# least your server's). The image also carries the server binaries of that major: restore drills
# and `backstop recover` start a throwaway cluster with them, never touching your server.
# PG_CLIENTS: the older client majors carried beside it (from the PostgreSQL apt repository): each
# target is backed up by the client of its server's own major where one is here, so its archive
# restores with that server's own pg_restore too; else by PG_MAJOR's. Debian's own packages have
# one major per suite, so with PG_SOURCE=debian only PG_MAJOR's client is carried.
ARG PG_MAJOR=18
ARG PG_SOURCE=pgdg
ARG PG_CLIENTS="13 14 15 16 17"
# The base of every stage; tests build from a local debootstrap import (no registry).
ARG BASE=debian:bookworm-slim
# Where the jar comes from: built here from source (build), or target/backstop.jar from the
# build context (prebuilt: CI, which has just built it).
ARG JAR_STAGE=build
ARG MAVEN_IMAGE=maven:3.9-eclipse-temurin-17

FROM ${MAVEN_IMAGE} AS build
WORKDIR /src
COPY pom.xml .
RUN mvn -B -ntp -q dependency:go-offline
COPY src ./src
RUN mvn -B -ntp -q -DskipTests package

FROM ${BASE} AS prebuilt
COPY target/backstop.jar /src/target/backstop.jar

FROM ${JAR_STAGE} AS jar

FROM ${BASE}
ARG PG_MAJOR
ARG PG_SOURCE
ARG PG_CLIENTS
# The base's own JRE (17 on bookworm, 21 on trixie; bullseye's default is 11, so its openjdk-17; the jar needs 17 or later); PostgreSQL's client and server of PG_MAJOR (server binaries only: no cluster is created);
# util-linux for setpriv (pg_dump dies with its parent; the entrypoint drops root), zstd (a .dump.zst
# restores by hand with zstd -dc < FILE | pg_restore), curl for the healthcheck, openssl (hashes a dump
# as it is written with the CPU's SHA instructions, which the daemon's C1-only JVM cannot use) and age
# (encrypts copies natively, some 4x the JVM's cipher; a copy also decrypts by hand in the container). No certificate authority beyond Debian's own is added.
RUN set -eu; export DEBIAN_FRONTEND=noninteractive; apt-get update; \
    jre=default-jre-headless; if [ "$(. /etc/os-release; echo "$VERSION_CODENAME")" = bullseye ]; then \
      jre=openjdk-17-jre-headless; fi; \
    apt-get install -y --no-install-recommends ca-certificates curl util-linux zstd openssl age "$jre"; \
    if [ "$PG_SOURCE" = pgdg ]; then \
      apt-get install -y --no-install-recommends gnupg; \
      curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc | gpg --dearmor -o /usr/share/keyrings/pgdg.gpg; \
      echo "deb [signed-by=/usr/share/keyrings/pgdg.gpg] https://apt.postgresql.org/pub/repos/apt $(. /etc/os-release; echo "$VERSION_CODENAME")-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list; \
      apt-get update; apt-get purge -y gnupg; \
    elif [ "$PG_SOURCE" != debian ]; then echo "PG_SOURCE must be pgdg or debian, was $PG_SOURCE" >&2; exit 2; fi; \
    mkdir -p /etc/postgresql-common/createcluster.d; \
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/backstop.conf; \
    clients=""; if [ "$PG_SOURCE" = pgdg ]; then for m in $PG_CLIENTS; do \
      [ "$m" = "$PG_MAJOR" ] || clients="$clients postgresql-client-$m"; done; fi; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" "postgresql-${PG_MAJOR}" $clients; \
    apt-get autoremove -y; apt-get clean; rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/*; \
    useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin backstop; \
    mkdir -p /backups /app/config; chown backstop /backups
COPY --from=jar /src/target/backstop.jar /app/backstop.jar
COPY backstop /app/backstop
COPY docker-entrypoint.sh /app/docker-entrypoint.sh
COPY config/backstop.conf /app/config/backstop.conf
# `docker compose exec backup backstop ...` runs through the entrypoint too, so as the backstop user.
RUN ln -s /app/docker-entrypoint.sh /usr/local/bin/backstop
# No BACKSTOP_PG_BIN_DIR: each target takes the client of its server's major from /usr/lib/postgresql/*/bin
# (PG_MAJOR's, the newest, where its own is not here); `backstop doctor` and the start-up log say which.
ENV BACKSTOP_BACKUP_DIR=/backups \
    BACKSTOP_CONFIG=/app/config/backstop.conf
VOLUME /backups
WORKDIR /app
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${BACKSTOP_HTTP_PORT:-8080}/health" > /dev/null || exit 1
# Starts as root only to give /backups to the backstop user (a fresh bind mount is root's), then
# drops to it: no work ever runs as root. Started as another user, it runs as that user.
ENTRYPOINT ["/app/docker-entrypoint.sh"]
CMD ["daemon"]
