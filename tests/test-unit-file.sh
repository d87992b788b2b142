#!/usr/bin/env bash
# tests/test-unit-file.sh UNIT - checks the installed systemd unit (TAP):
# systemd-analyze rates its exposure 2.0 or better, and it asks for the
# hardening the project requires. A missing systemd-analyze fails.
unit=$1
echo "1..3"
out=$(systemd-analyze security --offline=yes "$unit" 2>&1)
level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
  echo "ok 1 - exposure level $level <= 2.0"
else
  echo "not ok 1 - exposure level '${level:-none}' (want <= 2.0)"
  printf '%s\n' "$out" | tail -5 | sed 's/^/# /'
fi
missing=""
for want in Type=notify WatchdogSec= Restart=on-failure DynamicUser=yes ProtectSystem=strict \
  ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes "CapabilityBoundingSet=$" \
  RestrictAddressFamilies= SystemCallFilter=@system-service MemoryDenyWriteExecute=yes \
  LoadCredential=; do
  grep -qE "^${want}" "$unit" || missing="$missing $want"
done
if [ -z "$missing" ]; then echo "ok 2 - hardening directives present"; else echo "not ok 2 - missing:$missing"; fi
if grep -q '@[A-Z]*@' "$unit"; then echo "not ok 3 - unsubstituted placeholders"; else echo "ok 3 - install paths filled in"; fi
