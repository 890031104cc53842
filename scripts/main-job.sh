#!/usr/bin/env bash
# The example app, photo-share, on the local provider: `dev` deploys it and serves it; a photo
# goes up and comes back down (whole and by range); Ctrl-C stops it; `destroy` removes it all.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$PWD/target/main-job"
rm -rf "$work" && mkdir -p "$work"
export ALCHEMY_STATE_DIR="$work/.alchemy"
cargo build -q -p photo-share
app=target/debug/photo-share
[ -n "${CARGO_TARGET_DIR:-}" ] && app="$CARGO_TARGET_DIR/debug/photo-share"

"$app" plan
"$app" dev --port 0 > "$work/dev.log" 2>&1 &
dev=$!
trap 'kill "$dev" 2>/dev/null || true' EXIT
until url=$(grep -m1 -o 'http://127.0.0.1:[0-9]*' "$work/dev.log"); do
  kill -0 "$dev" 2>/dev/null || { cat "$work/dev.log"; echo "dev stopped before it served"; exit 1; }
  sleep 0.2
done
cat "$work/dev.log"
head -c 3000000 /dev/urandom > "$work/photo.jpg"
curl -fsS -X PUT --data-binary @"$work/photo.jpg" "$url/photos/photo.jpg"; echo
curl -fsS "$url/photos"; echo
curl -fsS "$url/photos/photo.jpg" -o "$work/back.jpg"
cmp "$work/photo.jpg" "$work/back.jpg" && echo "the photo came back whole"
curl -fsS -H 'Range: bytes=1000-1999' "$url/photos/photo.jpg" -o "$work/part.jpg"
cmp <(head -c 2000 "$work/photo.jpg" | tail -c 1000) "$work/part.jpg" && echo "the range came back right"
kill -INT "$dev"; wait "$dev"; trap - EXIT
"$app" plan --detailed-exitcode   # exit code 0: nothing left to change
"$app" destroy --yes
