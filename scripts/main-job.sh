#!/usr/bin/env bash
# The example app on the local provider: plan, deploy, outputs, a no-op redeploy, destroy.
set -euo pipefail
cd "$(dirname "$0")/.."
export ALCHEMY_STATE_DIR="${ALCHEMY_STATE_DIR:-$PWD/target/main-job/.alchemy}"
app() { cargo run -q -p photo-share -- "$@"; }

app plan
app deploy --yes
app outputs
app plan --detailed-exitcode   # exit code 0: nothing left to change
app destroy --yes
