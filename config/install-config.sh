#!/bin/sh
# config/install-config.sh DIR SRC NAME MODE [SRC NAME MODE ...] - meson
# install script: installs each SRC as DIR/NAME (under $DESTDIR) with MODE,
# unless DIR/NAME already exists. An installed config or secrets file is the
# operator's: installing again never overwrites it (the examples stay in
# the package's data directory for comparison).
set -eu
dir="${DESTDIR:-}$1"
shift
mkdir -p "$dir"
while [ $# -ge 3 ]; do
  src=$1 name=$2 mode=$3
  shift 3
  if [ -e "$dir/$name" ] || [ -L "$dir/$name" ]; then
    echo "Keeping the existing $dir/$name"
    if [ "$mode" = 0600 ] && [ -n "$(find "$dir/$name" -maxdepth 0 -perm -o+r 2>/dev/null)" ]; then
      echo "warning: $dir/$name is readable by every user: chmod 600 it" >&2
    fi
  else
    install -m "$mode" "$src" "$dir/$name"
    echo "Installing $src to $dir/$name"
  fi
done
