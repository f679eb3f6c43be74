#!/usr/bin/env bash
# The whole test suite: the Rust tests (unit, integration, property and doc tests, and the C ABI
# compiled and run from C), then the Python package built as a wheel, installed into a virtual
# environment (target/venv) and tested with pytest against the CLI and samtools' text.
# Corpus tests run too when RAWARROW_CORPUS points at a corpus folder.
#
# `--quick`: the contributors' tier instead — formatting, clippy with -D warnings and the unit
# tests of every crate (no integration, C or Python tests); a few minutes on a warm target/.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--quick" ]; then
  shift
  echo "==> cargo fmt --check"
  cargo fmt --all -- --check
  echo "==> cargo clippy -D warnings"
  cargo clippy --workspace --all-targets -- -D warnings
  echo "==> unit tests (cargo test --workspace --lib --bins)"
  cargo test --workspace --lib --bins "$@"
  exit 0
fi

echo "==> cargo test --workspace"
cargo test --workspace

echo "==> the CLI (the Python tests compare with it) and the wheel"
cargo build --release --bin rawarrow
venv="$PWD/target/venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check maturin pytest pyarrow polars duckdb "ray[data]" \
  music21 pretty_midi mido pyteomics "moto[server]"
rm -rf target/wheels
"$venv/bin/maturin" build --release --quiet -m python/Cargo.toml -o target/wheels
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/rawarrow-*.whl

echo "==> pytest python/tests"
RAWARROW_CLI="$PWD/target/release/rawarrow" "$venv/bin/python" -m pytest -q python/tests "$@"
