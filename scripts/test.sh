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
RUSTDOCFLAGS="-D warnings" cargo doc -p alchemy --no-deps

step "the runtime side builds without the control plane"
RUSTFLAGS="-D warnings" cargo check -p alchemy --no-default-features
RUSTFLAGS="-D warnings" cargo check -p alchemy-stream --no-default-features
RUSTFLAGS="-D warnings" cargo check -p alchemy-http --no-default-features
RUSTFLAGS="-D warnings" cargo check -p alchemy-s3 --no-default-features
# What runs inside a Worker may not depend on a native runtime, a server, SQLite or the CLI.
for crate in alchemy alchemy-s3; do
  native=$(cargo tree -p "$crate" --no-default-features -e normal --prefix none \
    | grep -E '^(tokio|mio|hyper|rusqlite|libsqlite3-sys|clap|aws-|reqwest|rustls|ring) ' | sort -u || true)
  if [ -n "$native" ]; then
    echo "the runtime side of $crate depends on native-only crates:"; echo "$native"; exit 1
  fi
done

step "the wasm toolchain for Workers (installs what is missing; quick when done)"
bash scripts/wasm-toolchain.sh >/dev/null

step "cargo test (every crate, every feature)"
cargo test --workspace --all-features
