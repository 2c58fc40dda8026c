#!/bin/sh
# web/vendor.sh: copies socket.io-client's browser bundle (MIT, with its licence
# header) from tests/node/node_modules into web/vendor/, which nginx serves as
# /vendor/socket.io.min.js. web/vendor/ is not committed (web/.gitignore).
# Run by scripts/stack up and tests/run; harmless to run again. When
# tests/node/node_modules is missing it runs `npm ci` there first.
set -eu
WEB=$(cd "$(dirname "$0")" && pwd)
NODE_DIR=$WEB/../tests/node
DIST=$NODE_DIR/node_modules/socket.io-client/dist
OUT=$WEB/vendor

if [ ! -f "$DIST/socket.io.min.js" ]; then
	if command -v npm >/dev/null 2>&1 && [ -f "$NODE_DIR/package.json" ]; then
		echo "web/vendor.sh: installing tests/node (npm ci)" >&2
		(cd "$NODE_DIR" && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error
		else npm install --no-audit --no-fund --loglevel=error; fi) >&2
	fi
fi
if [ ! -f "$DIST/socket.io.min.js" ]; then
	echo "web/vendor.sh: $DIST/socket.io.min.js not found (run npm ci in tests/node)" >&2
	exit 1
fi
mkdir -p "$OUT"
for f in socket.io.min.js socket.io.min.js.map; do
	if [ -f "$DIST/$f" ] && ! cmp -s "$DIST/$f" "$OUT/$f"; then
		cp "$DIST/$f" "$OUT/$f.tmp.$$" && mv "$OUT/$f.tmp.$$" "$OUT/$f"
	fi
done
cmp -s "$DIST/../LICENSE" "$OUT/socket.io-client.LICENSE" 2>/dev/null ||
	cp "$DIST/../LICENSE" "$OUT/socket.io-client.LICENSE"
