#!/usr/bin/env bash
# Run every test: system packages first, then the whole cargo test suite
# (unit, integration and doc tests; dependencies are optimised in the test
# profile so model inference stays fast in a debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --locked --all-targets "$@"
