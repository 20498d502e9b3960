#!/usr/bin/env bash
# Refresh the screenshots of the reviewer's desk in docs/img/: the review page and the
# index at 1440x900 (review-page.png, index.png), 1280x720 and 390x844
# (review-WxH.png, index-WxH.png) and the missed-event form (review-missed.png), taken by the browser test (tests/review.rs,
# tests/browser/review_check.py) in headless Chromium while it checks the desk.
# Needs what that test needs: chromium and chromium-driver (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/browser/fetch_axe.sh >/dev/null || echo "screenshots.sh: no axe-core; the accessibility check is left out" >&2
PROCTOR_SCREENSHOTS="$PWD/docs/img" cargo test --locked --test tests review_desk_in_a_browser -- --nocapture "$@"
ls -l docs/img/review-*.png docs/img/index*.png
