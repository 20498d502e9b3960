#!/usr/bin/env bash
# Run every test: system packages and test data first, then the whole cargo
# test suite (unit, integration and doc tests; dependencies are optimised in the
# test profile so model inference stays fast in a debug build), the long
# #[ignore]d tests, then
# scripts/slurm_check.sh (the Slurm job array of docs/batch.md on a one-node
# cluster, with the proctor the tests built). A test that cannot run here (no
# ../shared/devset, no group photos, a missing tool, no root for Slurm) prints
# `SKIPPED: <test>: <why>`; they are counted and listed again at the end. With
# PROCTOR_NO_SKIP=1 (as .ci/run sets) a skip fails its test instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test-data
mkdir -p target
skips="$PWD/target/skipped-tests.txt"
: >"$skips"
status=0
PROCTOR_SKIP_LOG="$skips" cargo test --locked --all-targets "$@" || status=$?
if [ $# -eq 0 ]; then
  # the long tests (10- and 20-minute recordings, the 2-minute swaps: about 12
  # minutes on 2 cores) are #[ignore]d so that `cargo test` stays quick, and run here
  PROCTOR_SKIP_LOG="$skips" cargo test --locked --test tests -- --ignored || status=$?
fi
PROCTOR_SKIP_LOG="$skips" bash scripts/slurm_check.sh target/debug/proctor || status=$?
# the `cuda` feature cannot be compiled here (its build scripts run nvcc, from the
# CUDA toolkit, which CI does not install); what is checked is that its
# dependencies resolve from Cargo.lock as it is, so `cargo build --locked
# --features cuda` on a machine with the toolkit needs no change to the lock
cargo tree --locked --features cuda -e normal -i cudarc >/dev/null || { echo "test.sh: the cuda feature does not resolve from Cargo.lock"; status=1; }
if [ -s "$skips" ]; then
  n=$(sed 's/^SKIPPED: \([^ ]*\): .*/\1/' "$skips" | sort -u | wc -l)
  echo
  echo "test.sh: $n test(s) skipped, each passing without checking what it is for:"
  sort -u "$skips" | sed 's/^/  /'
fi
exit "$status"
