#!/bin/sh
# The image's entrypoint. As root: make the backup directory writable by the backstop user (a
# fresh bind mount or named volume belongs to root, or to whoever created it on the host), then
# run Backstop as that user: no work ever runs as root. As any other user: run Backstop as is.
set -eu
here="$(dirname "$(readlink -f "$0")")"
dir="${BACKSTOP_BACKUP_DIR:-/backups}"
user="${BACKSTOP_RUN_AS:-backstop}"
if [ "$(id -u)" = 0 ]; then
  uid="$(id -u "$user")"
  mkdir -p "$dir"
  if [ "$(stat -c %u "$dir")" != "$uid" ]; then
    echo "backstop: giving $dir to user $user (uid $uid), which Backstop runs as" >&2
    chown "$uid" "$dir"
  fi
  # What an earlier run as root may have left (a target's directory, its tiers) becomes the user's too.
  find "$dir" -maxdepth 2 ! -user "$uid" -exec chown "$uid" {} + 2>/dev/null || true
  exec setpriv --reuid="$uid" --regid="$(id -g "$user")" --init-groups --inh-caps=-all "$here/backstop" "$@"
fi
exec "$here/backstop" "$@"
