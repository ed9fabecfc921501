#!/usr/bin/env bash
# Test setup for the container tests, idempotent: a running Docker engine (Debian's docker.io,
# started here when none answers), and the base image every test image is built from, made
# without a registry: debootstrap --variant=minbase SUITE, imported as backstop-base:SUITE, for each
# suite given (bookworm when none is). Prints the docker CLI to use. Needs root.
set -euo pipefail
docker=/usr/bin/docker
[ -x "$docker" ] || docker="$(command -v docker)"
if ! "$docker" info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || { echo "engine.sh: dockerd is not installed (apt-get install docker.io)" >&2; exit 3; }
  nohup dockerd --host=unix:///var/run/docker.sock > /tmp/backstop-dockerd.log 2>&1 &
  for _ in $(seq 1 120); do "$docker" info >/dev/null 2>&1 && break; sleep 0.5; done
  "$docker" info >/dev/null 2>&1 || { echo "engine.sh: dockerd did not start: $(tail -5 /tmp/backstop-dockerd.log)" >&2; exit 3; }
fi
root=""
# debootstrap's tree goes whatever ends this script (a test's timeout sends SIGTERM): its mounts first.
cleanup() {
  if [ -n "$root" ] && [ -d "$root" ]; then
    { findmnt -rn -o TARGET | grep -F "$root/" | sort -r || true; } | while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$root"
  fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT
# Trees left by a run that was SIGKILLed: older than any build could take.
find /tmp -maxdepth 1 -name 'backstop-base-*' -type d -mmin +180 -print0 2>/dev/null | while IFS= read -r -d '' old; do
  root="$old" cleanup
done
for suite in "${@:-bookworm}"; do
  if ! "$docker" image inspect "backstop-base:$suite" >/dev/null 2>&1; then
    root="$(mktemp -d /tmp/backstop-base-XXXXXX)"
    debootstrap --variant=minbase "$suite" "$root" http://deb.debian.org/debian >"/tmp/backstop-debootstrap-$suite.log" 2>&1 \
      || { echo "engine.sh: debootstrap $suite failed: $(tail -5 "/tmp/backstop-debootstrap-$suite.log")" >&2; exit 3; }
    rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
    tar -C "$root" -c . | "$docker" import --change 'CMD ["/bin/bash"]' - "backstop-base:$suite" >/dev/null
    cleanup
    root=""
  fi
done
echo "$docker"
