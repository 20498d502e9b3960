#!/usr/bin/env bash
# Install the system packages proctor builds and tests against (Debian/Ubuntu).
# Idempotent: installs only what is missing. Needs root or sudo.
set -euo pipefail

packages=(
  pkg-config clang libclang-dev              # bindgen for ffmpeg-sys-next
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  ffmpeg                                     # fixtures and the decode benchmark baseline
  poppler-utils                              # pdftotext/pdftoppm, used by the tests
  fonts-droid-fallback                       # optional CJK fallback for names in reports
  chromium chromium-driver python3           # browser tests of the review pages (tests/review.rs)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found. Install Rust 1.95 or newer with rustup (https://rustup.rs)," >&2
  echo "       then run this again." >&2
  exit 1
fi
