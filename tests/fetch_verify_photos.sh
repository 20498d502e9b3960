#!/usr/bin/env bash
# The photos of known identity that tests/model_face_embed.rs's verification test
# compares (same person or not at the descriptor's threshold): face_recognition
# 1.3.0's test photos (its sdist on PyPI, MIT; sha256-checked: Barack Obama five
# times, Joe Biden once), the astronaut (fixtures/face.jpg) and three frames of
# the carphone man (fixtures/h264_aac.mp4), as PNGs in
# target/model-work/dlib/verify/ (or $1), the names models/convert_dlib.py
# --reference gives them. Nothing is committed; scripts/setup.sh --test-data
# runs this. Does nothing when the photos are already there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/target/model-work/dlib/verify}
sdist=face_recognition-1.3.0.tar.gz
sdist_sha=5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec
photos=(obama obama2 obama3 obama_partial_face obama_partial_face2 biden)

if [ -f "$out/biden.png" ] && [ -f "$out/carphone_at_1.8.png" ]; then
  echo "verification photos already in $out"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" download -q --no-deps --no-binary :all: face_recognition==1.3.0 -d "$tmp"
echo "$sdist_sha  $tmp/$sdist" | sha256sum -c --quiet - || { echo "fetch_verify_photos.sh: $sdist: sha256 mismatch" >&2; exit 1; }
tar -xzf "$tmp/$sdist" -C "$tmp" $(printf 'face_recognition-1.3.0/tests/test_images/%s.jpg ' "${photos[@]}")
mkdir -p "$out"
png() { ffmpeg -v error -y "$@"; }
for p in "${photos[@]}"; do
  png -i "$tmp/face_recognition-1.3.0/tests/test_images/$p.jpg" "$out/$p.png"
done
png -i "$here/fixtures/face.jpg" "$out/astronaut.png"
for t in 0.5 1.2 1.8; do
  png -ss "$t" -i "$here/fixtures/h264_aac.mp4" -frames:v 1 "$out/carphone_at_$t.png"
done
echo "verification photos in $out"
