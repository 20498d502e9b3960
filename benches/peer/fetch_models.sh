#!/usr/bin/env bash
# Fetch the two ONNX files of the full-pipeline peer (benches/peer/full_peer.py) from
# their public repositories at pinned commits, check their sha256, and put them in
# target/peer-models/ (or $1). They are the files proctor's own YuNet-n and YOLOX-nano
# were converted from (models/yunet_n.provenance.json, models/yolox_nano.provenance.json);
# they are not committed.
#
#   bash benches/peer/fetch_models.sh [OUTDIR]
#
# A file already in OUTDIR with the right hash is kept. PEER_MODELS=DIR takes the files
# from DIR instead of the network (a machine without github.com: copy them there from a
# clone or snapshot of the two repositories); their hashes are checked all the same.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../target/peer-models}

# file, sha256, raw URL at the pinned commit
files=(
  "yunet_n_dynamic.onnx 104ee26c71d5c270ce79a6b3dced91c91013260d29a6bf18f9296c5b8c4c2b12 https://raw.githubusercontent.com/ShiqiYu/libfacedetection.train/0047ac24afb1a50a0c6105001c89d1b5b805dbf1/onnx/yunet_n_dynamic.onnx"
  "yolox_nano.onnx      695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14 https://raw.githubusercontent.com/Kazuhito00/YOLOX-ONNX-TFLite-Sample/3d4f1119d0694200671c08069ecb847aa0d8495a/model/yolox_nano.onnx"
)

ok() { echo "$1  $2" | sha256sum -c --quiet - >/dev/null 2>&1; }

mkdir -p "$out"
for f in "${files[@]}"; do
    read -r name sum url <<<"$f"
    dst=$out/$name
    if ok "$sum" "$dst"; then
        continue
    fi
    tmp=$dst.tmp.$$
    if [[ -n ${PEER_MODELS:-} ]]; then
        cp "$PEER_MODELS/$name" "$tmp"
    else
        curl -fsSL --retry 3 -o "$tmp" "$url" || { rm -f "$tmp"; echo "fetch_models.sh: cannot download $url (set PEER_MODELS=DIR to use local copies)" >&2; exit 1; }
    fi
    if ! ok "$sum" "$tmp"; then
        rm -f "$tmp"
        echo "fetch_models.sh: $name: sha256 is not $sum" >&2
        exit 1
    fi
    mv "$tmp" "$dst"
done
echo "peer models in $out"
