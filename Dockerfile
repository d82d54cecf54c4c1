# spot-canvas container image (docs/docker.md).
#
#   docker build -t spot-canvas .                     the service (target runtime, the default)
#   docker build --target demo -t spot-canvas:demo .  + exchange simulator, nats-server and
#                                                       PostgreSQL for the offline demo
#
# The runtime image holds the service and the shared libraries it links, nothing
# else: NATS and PostgreSQL/TimescaleDB are separate containers (docker-compose.yml)
# reached through NATS_URL and DATABASE_URL. tests/docker checks this file against
# the built binary and the service's configuration.

# ---- build: compile with meson, web assets with Debian's node/npm ----------------
FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
# The build packages of tools/quickstart, without the servers, plus Debian's nodejs
# and npm for the web assets (node 18: Tailwind 3.4 / daisyUI 4, DESIGN.md section 3).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      gcc libc6-dev pkg-config meson ninja-build gettext \
      libglib2.0-dev libsoup-3.0-dev libjson-glib-dev libnats-dev libjwt-dev \
      libpq-dev libssl-dev \
      nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# npm packages first, so editing C sources does not repeat the download.
COPY data/web/package.json data/web/package-lock.json data/web/
RUN cd data/web && npm ci --no-audit --no-fund --loglevel=error

COPY . .
# Only what is installed is built (the test programs are not needed here), so the
# install runs with --no-rebuild. web_assets=enabled: a missing bundle is an error,
# never a silent template-only dashboard.
RUN meson setup /build --buildtype=release --prefix=/usr \
      -Dweb_assets=enabled -Dmonitor=disabled \
 && ninja -C /build src/spot-canvas tools/exchange-sim/spot-exchange-sim \
 && meson install -C /build --no-rebuild --destdir /staging \
 && /staging/usr/bin/spot-canvas --version

# ---- runtime: the service alone --------------------------------------------------
FROM debian:12-slim AS runtime-base
ARG DEBIAN_FRONTEND=noninteractive
# Shared libraries of the binary (found with ldd + dpkg -S; tests/docker re-checks
# them), glib-networking (GIO's TLS module: libsoup's wss:// and https:// to
# Coinbase; ldd does not show it), the CA certificates, and curl for HEALTHCHECK.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libglib2.0-0 libjson-glib-1.0-0 libsoup-3.0-0 libpq5 libnats3.4 libjwt0 libssl3 \
      glib-networking ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid, so volumes and bind mounts can be prepared for it on the host.
RUN groupadd --system --gid 10001 spot \
 && useradd --system --uid 10001 --gid spot --home-dir /var/lib/spot-canvas \
      --no-create-home --shell /usr/sbin/nologin spot \
 && install -d -o spot -g spot -m 0700 /var/lib/spot-canvas

COPY --from=build /staging/usr/bin/spot-canvas /usr/bin/spot-canvas
COPY --from=build /staging/usr/share/spot-canvas /usr/share/spot-canvas

# Inside a container: listen on every IPv4 address, keep state in the volume, and
# no D-Bus (there is no bus; the service would log that once and go on without).
# GSETTINGS_BACKEND=memory: glib-networking's proxy lookup reads GSettings, and the
# dconf backend it pulls in would log criticals for every lookup when it cannot
# write ~/.cache/dconf (and otherwise clutter the state volume).
ENV HTTP_ADDR=0.0.0.0:8080 \
    STATE_DIRECTORY=/var/lib/spot-canvas \
    DBUS_BUS=none \
    LOG_LEVEL=message \
    GSETTINGS_BACKEND=memory

USER spot
WORKDIR /var/lib/spot-canvas
VOLUME ["/var/lib/spot-canvas"]
EXPOSE 8080

# /health is 200 while running, 503 while starting, degraded or stopping. The port
# follows HTTP_ADDR, so overriding it does not break the check. The start period
# covers migrations and the seeding of the products from REST.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD addr="${HTTP_ADDR:-0.0.0.0:8080}"; curl -fsS -o /dev/null --max-time 4 "http://127.0.0.1:${addr##*:}/health" || exit 1

# SIGTERM starts the ordered shutdown, bounded by SHUTDOWN_TIMEOUT_S (default 10 s)
# plus a 2 s watchdog: give the container more than 12 s to stop (docker stop -t 30,
# docker run --stop-timeout 30, compose stop_grace_period: 30s), or Docker's default
# 10 s SIGKILLs it mid-flush and the journal replays at the next start.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/spot-canvas"]
CMD ["run"]

# ---- demo: + the exchange simulator, nats-server and PostgreSQL -------------------
# The offline demo (docker-compose.yml profile demo) runs the simulator in one
# container and the service with its embedded nats-server and PostgreSQL in another,
# so simulated candles never reach the NATS and database of a live deployment.
FROM runtime-base AS demo
USER root
ARG DEBIAN_FRONTEND=noninteractive
# No default cluster: the service runs initdb in its state directory itself.
RUN mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/spot-canvas.conf \
 && apt-get update \
 && apt-get install -y --no-install-recommends nats-server postgresql-15 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /staging/usr/bin/spot-exchange-sim /usr/bin/spot-exchange-sim
USER spot

# ---- runtime (default target, the last stage) --------------------------------------
FROM runtime-base AS runtime
