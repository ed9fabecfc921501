# Backstop sidecar image. pg_dump dumps servers up to its own major, so PG_MAJOR should be
# the newest released PostgreSQL major (or at least your server's): docker build --build-arg PG_MAJOR=17 .
ARG PG_MAJOR=19

FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml .
RUN mvn -B -ntp -q dependency:go-offline
COPY src ./src
RUN mvn -B -ntp -q -DskipTests package

FROM debian:bookworm-slim
ARG PG_MAJOR
# A JRE, PostgreSQL's client tools of PG_MAJOR from the PostgreSQL apt repository, setpriv
# (pg_dump dies with its parent) and curl (the healthcheck).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg openjdk-17-jre-headless util-linux \
 && curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc | gpg --dearmor -o /usr/share/keyrings/pgdg.gpg \
 && echo "deb [signed-by=/usr/share/keyrings/pgdg.gpg] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
      > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}" \
 && apt-get purge -y gnupg && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin backstop \
 && mkdir -p /backups /app/config && chown backstop /backups
COPY --from=build /src/target/backstop.jar /app/backstop.jar
COPY backstop /app/backstop
COPY config/backstop.conf /app/config/backstop.conf
ENV BACKSTOP_BACKUP_DIR=/backups \
    BACKSTOP_CONFIG=/app/config/backstop.conf \
    BACKSTOP_PG_BIN_DIR=/usr/lib/postgresql/${PG_MAJOR}/bin
VOLUME /backups
USER backstop
WORKDIR /app
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${BACKSTOP_HTTP_PORT:-8080}/health" > /dev/null || exit 1
ENTRYPOINT ["/app/backstop"]
CMD ["daemon"]
