#!/usr/bin/env bash
# tests/test-install.sh MESON BUILDDIR SYSCONFDIR - `meson install` twice into
# a temporary DESTDIR (TAP): the first installs clmd.json and secrets.json
# (mode 600); edits to both (the secrets made world-readable, which clmd
# warns about at start) survive the second; the examples are in the data
# directory.
set -u
meson=$1 build=$2 etc=$3/clmd
dest=$(mktemp -d "${TMPDIR:-/tmp}/clmd-install-XXXXXX")
trap 'rm -rf "$dest"' EXIT
log=$dest.log
echo "1..5"
inst() { DESTDIR= "$meson" install --no-rebuild -C "$build" --destdir "$dest" >>"$log" 2>&1; }
if inst && [ -f "$dest$etc/clmd.json" ] && [ "$(stat -c %a "$dest$etc/secrets.json")" = 600 ]; then
  echo "ok 1 - first install: clmd.json, secrets.json mode 600"
else
  echo "not ok 1 - first install"; sed 's/^/# /' "$log"; ls -lR "$dest" | sed 's/^/# /'
fi
echo '{"redis": {"prefix": "edited:"}}' >"$dest$etc/clmd.json"
echo '{"redis": {"password": "edited-secret"}}' >"$dest$etc/secrets.json"
chmod 644 "$dest$etc/secrets.json"
if inst; then echo "ok 2 - second install"; else echo "not ok 2 - second install"; sed 's/^/# /' "$log"; fi
if [ "$(cat "$dest$etc/clmd.json")" = '{"redis": {"prefix": "edited:"}}' ]; then
  echo "ok 3 - the edited clmd.json is kept"
else
  echo "not ok 3 - clmd.json overwritten"; sed 's/^/# /' "$dest$etc/clmd.json"
fi
if grep -q edited-secret "$dest$etc/secrets.json"; then
  echo "ok 4 - the edited secrets.json is kept"
else
  echo "not ok 4 - secrets.json overwritten"
fi
if [ -n "$(find "$dest" -path '*/clmd/clmd.example.json')" ] &&
  [ -n "$(find "$dest" -path '*/clmd/secrets.example.json')" ]; then
  echo "ok 5 - the examples are in the data directory"
else
  echo "not ok 5 - no examples"; ls -lR "$dest" | sed 's/^/# /'
fi
rm -f "$log"
