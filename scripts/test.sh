#!/usr/bin/env bash
# Every check and every test of the workspace. Installs nothing that is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, all features, warnings are errors)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features

step "the runtime side builds without the control plane"
RUSTFLAGS="-D warnings" cargo check -p alchemy --no-default-features
RUSTFLAGS="-D warnings" cargo check -p alchemy-stream --no-default-features

step "cargo test (every crate, every feature)"
cargo test --workspace --all-features
