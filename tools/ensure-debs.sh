#!/bin/sh
# ensure-debs.sh PKG...: install the Debian packages that are missing.
# A no-op when everything is present; needs root (as on CI) otherwise.
missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing Debian packages:$missing" >&2
if [ "$(id -u)" != 0 ]; then
  echo "not root: install them with: sudo apt-get install$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists once per machine (and again if an install fails on stale lists).
if [ ! -e /var/lib/apt/lists/lock ] || [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v lock | head -1)" ]; then
  apt-get update -qq >&2
fi
apt-get install -y -qq --no-install-recommends $missing >&2 || {
  apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends $missing >&2
}
