#!/usr/bin/env bash
# Install what is needed, build proctor, and analyse the bundled sample
# recording. Outputs land in demo-out/.
#
# The build uses the dev profile, whose dependencies are optimised (see
# Cargo.toml): it shares its artifacts with `scripts/test.sh`, so running
# both builds the stack once. `cargo install --path .` gives a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --locked
./target/debug/proctor analyze fixtures/sample.webm --candidate "Sample Candidate" -o demo-out
echo
echo "Outputs in demo-out/:"
ls -l demo-out
