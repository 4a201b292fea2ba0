#!/bin/sh
# Lays out the files of the container image's runtime stage, from a built
# binary (run from the repository's root):
#   OUT/rootfs/usr/local/bin/ptt-relay     the binary
#   OUT/rootfs/app/config/default.toml     the defaults
#   OUT/rootfs/lib*/...                    exactly the shared libraries `ldd`
#                                          lists (glibc, libgcc_s, the loader)
#   OUT/data/                              the empty store folder
# Used by the Dockerfile's build stage and by scripts/container-test.sh, so
# both fill the runtime stage the same way. No CA certificates: the binary
# carries its TLS roots (webpki-roots).
# Usage: scripts/container-files.sh BINARY OUT
set -eu
bin=$1
out=$2
mkdir -p "$out/rootfs/usr/local/bin" "$out/rootfs/app/config" "$out/data"
cp "$bin" "$out/rootfs/usr/local/bin/ptt-relay"
cp config/default.toml "$out/rootfs/app/config/default.toml"
# A static binary has no libraries to copy (ldd then fails).
libs=$(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*' || true)
for lib in $libs; do
  cp --parents -L "$lib" "$out/rootfs"
done
