#!/usr/bin/env bash
# Install what is needed, build proctor, and analyse the bundled sample
# recording. Outputs land in demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked
./target/release/proctor analyze fixtures/sample.webm --candidate "Sample Candidate" -o demo-out
echo
echo "Outputs:"; ls -l demo-out
