#!/usr/bin/env bash
# Test setup for the container tests, idempotent: a running Docker engine (Debian's docker.io,
# started here when none answers), and the base image every test image is built from, made
# without a registry: debootstrap --variant=minbase bookworm, imported as backstop-base:bookworm.
# Prints the docker CLI to use. Needs root.
set -euo pipefail
docker=/usr/bin/docker
[ -x "$docker" ] || docker="$(command -v docker)"
if ! "$docker" info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || { echo "engine.sh: dockerd is not installed (apt-get install docker.io)" >&2; exit 3; }
  nohup dockerd --host=unix:///var/run/docker.sock > /tmp/backstop-dockerd.log 2>&1 &
  for _ in $(seq 1 120); do "$docker" info >/dev/null 2>&1 && break; sleep 0.5; done
  "$docker" info >/dev/null 2>&1 || { echo "engine.sh: dockerd did not start: $(tail -5 /tmp/backstop-dockerd.log)" >&2; exit 3; }
fi
if ! "$docker" image inspect backstop-base:bookworm >/dev/null 2>&1; then
  root="$(mktemp -d /tmp/backstop-base-XXXXXX)"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/tmp/backstop-debootstrap.log 2>&1 \
    || { echo "engine.sh: debootstrap failed: $(tail -5 /tmp/backstop-debootstrap.log)" >&2; exit 3; }
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
  tar -C "$root" -c . | "$docker" import --change 'CMD ["/bin/bash"]' - backstop-base:bookworm >/dev/null
  rm -rf "$root"
fi
echo "$docker"
