#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# apt on the test bed's own state in .cache/apt: the kernels of Debian's
# other suites (7.x: trixie-backports, sid) are looked up and downloaded
# there, so that the host's sources, lists and pins stay as they are.
#
#   testbed-apt.sh update
#   testbed-apt.sh apt-cache ARGS...
#   testbed-apt.sh apt-get ARGS...     (download only: no status file)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/.cache/apt
conf=$dir/apt.conf

if [ ! -f "$conf" ] || ! grep -qF "\"$dir/" "$conf"; then
	mkdir -p "$dir/state/lists/partial" "$dir/cache/archives/partial" \
		"$dir/parts" "$dir/prefs"
	: >"$dir/status"
	cat >"$dir/sources.list" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main
EOF
	cat >"$conf" <<EOF
Dir::State "$dir/state";
Dir::State::status "$dir/status";
Dir::Cache "$dir/cache";
Dir::Etc::SourceList "$dir/sources.list";
Dir::Etc::SourceParts "$dir/parts";
Dir::Etc::Preferences "$dir/prefs/none";
Dir::Etc::PreferencesParts "$dir/prefs";
APT::Architecture "amd64";
APT::Sandbox::User "root";
Debug::NoLocking "true";
EOF
fi
export APT_CONFIG="$conf"

case ${1:-} in
update)
	exec apt-get update -qq ;;
apt-cache|apt-get)
	exec "$@" ;;
*)
	echo "usage: $0 update | apt-cache ARGS | apt-get ARGS" >&2
	exit 2 ;;
esac
