#!/usr/bin/env bash
# The image's /app: dist/src of the checkout SRC (already compiled), production
# dependencies only (npm ci --omit=dev), the ssh2 patch applied, and the native addons
# (ssh2's crypto binding, cpu-features, bufferutil) built for the image's node, whose
# directory NODE_DIR holds bin/node and include/node. Used by build.sh and the Dockerfile.
#
#   dev/image/build-app.sh SRC APP NODE_DIR
set -euo pipefail
SRC="$(cd "$1" && pwd)"
APP="$2"
NODE_DIR="$(cd "$3" && pwd)"
[ -f "$SRC/dist/src/bin/proxy.js" ] || { echo "build-app.sh: $SRC/dist/src is not built; run npm ci (or npx tsc -p tsconfig.json) first" >&2; exit 2; }
[ -d "$NODE_DIR/include/node" ] || { echo "build-app.sh: $NODE_DIR/include/node is missing (node's headers, for the native addons)" >&2; exit 2; }

# Scripts below run with the image's node: installs and builds target its ABI.
export PATH="$NODE_DIR/bin:$PATH"
mkdir -p "$APP/dist"
cp "$SRC/package.json" "$SRC/package-lock.json" "$APP/"
cp -r "$SRC/patches" "$APP/patches"
cp -r "$SRC/dist/src" "$APP/dist/src"
cd "$APP"

# --ignore-scripts: `prepare` would run tsc (a devDependency, absent here) and the
# install scripts would build for whichever node runs npm; both are done deliberately below.
npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
node_modules/.bin/patch-package --error-on-fail
npm rebuild --nodedir="$NODE_DIR" --loglevel=error ssh2 cpu-features bufferutil >/dev/null
# ssh2 falls back to pure JavaScript when its binding is missing: insist on it.
node -e "
  require('./node_modules/ssh2/lib/protocol/crypto/build/Release/sshcrypto.node');
  require('cpu-features')();
  require('bufferutil');
  if (!require('fs').readFileSync('node_modules/ssh2/lib/client.js', 'utf8').includes('identRaw')) throw new Error('the ssh2 patch is not applied');
"

# Keep the built addons, drop their build trees and what only building needed; drop what
# node never loads at run time (type declarations and sources, source maps, docs, other
# platforms' prebuilt addons).
for build in node_modules/ssh2/lib/protocol/crypto/build node_modules/cpu-features/build; do
  find "$build" -depth -mindepth 1 ! -path "$build/Release" ! -path "$build/Release/*.node" -exec rm -rf {} +
done
find node_modules/bufferutil/prebuilds -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
find node_modules -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' -o -name '*.md' \) -delete
rm -rf node_modules/@types node_modules/nan node_modules/cpu-features/deps patches

# Entrypoints: no shell at run time, the kernel starts node from the shebang.
mkdir -p bin
for b in proxy agent; do
  # One V8 flag fits a shebang line: the one src/bin/node-flags.ts explains.
  printf '#!/usr/local/bin/node --initial-old-space-size=64\nimport "../dist/src/bin/%s.js";\n' "$b" > "bin/tower-$b"
  chmod 0755 "bin/tower-$b"
done
