# Developer recipes. They only wrap cargo; README.md says which one to start with.

set shell := ["bash", "-euo", "pipefail", "-c"]

# The PostgreSQL server the PostgreSQL half of the suite creates its databases on (without TLS
# on loopback: OpenSSL's exit handler can race libpq's threads and abort a test process after
# its test passed, openssl/openssl#6214).
pg_url := env_var_or_default("BAOMING_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")

# The S3-compatible server the object storage tests create their buckets on (moto:
# `pip install 'moto[server]==5.2.1'` and `moto_server -H 127.0.0.1 -p 9010`; .ci/run starts it).
s3_url := env_var_or_default("BAOMING_TEST_S3_URL", "http://127.0.0.1:9010")

# List the recipes.
default:
    @just --list

# Build everything, tests included.
build:
    cargo build --workspace --all-targets

# The whole suite: every database test on SQLite and on PostgreSQL, the object storage tests on
# the S3 server, then the examples of the crates' documentation (nextest does not run doctests).
test:
    BAOMING_TEST_POSTGRES_URL='{{pg_url}}' BAOMING_TEST_S3_URL='{{s3_url}}' cargo nextest run --workspace --no-fail-fast
    cargo test --doc --workspace

# Only the SQLite half (no PostgreSQL server and no S3 server needed), and the documentation's
# examples.
test-sqlite:
    cargo nextest run --workspace --no-fail-fast -E 'not test(/(^|::)(postgres|s3)::/)'
    cargo test --doc --workspace

# Only the PostgreSQL half of the database tests.
test-postgres:
    BAOMING_TEST_POSTGRES_URL='{{pg_url}}' cargo nextest run --workspace --no-fail-fast -E 'test(/(^|::)postgres::/)'

# Formatting and clippy, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The documentation, as CI checks it: the crates' API docs build without a warning (missing
# docs on public items and broken intra-doc links are errors), and no file refers to a path
# outside the repository or links to a missing file (.ci/check-links).
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
    .ci/check-links

# The workspace's layering, as CI checks it: the worker does not link actix-web, and a build
# without the simulators (as packaged) carries no simulator and no development key.
layout:
    ! cargo tree -p baoming-worker -e normal --prefix none | grep -q '^actix-web '
    ! cargo tree -p baoming-api -p baoming-worker --no-default-features -e normal --prefix none | grep -Eq '^baoming-(wechat-sim|wechatpay-sim|dev-keys) '
    cargo check -p baoming-api -p baoming-worker --no-default-features

# Check the systemd units (deploy/systemd) with `systemd-analyze verify`, against the built
# binaries (docs/operations.md).
verify-units:
    cargo build -p baoming-api -p baoming-worker
    deploy/verify-units "${CARGO_TARGET_DIR:-target}/debug"

# Fuzz the live API with schemathesis against its `/openapi.json` (.ci/fuzz): participant and
# back-office routes, no 5xx and every answer as documented; extra arguments go to schemathesis.
fuzz *ARGS:
    .ci/fuzz {{ARGS}}

# Run the api locally (dev mode: SQLite in ./data, demo data, the WeChat simulator).
run:
    cargo run -p baoming-api

# Run the worker locally against the same settings (the clock sweep, the job queue).
run-worker:
    cargo run -p baoming-worker

# The load benchmark's standard scenario on SQLite (docs/performance.md); extra arguments are
# passed on, e.g. `just bench --database postgres://postgres@127.0.0.1:5432/postgres`.
bench *ARGS:
    cargo build --release -p baoming-api -p baoming-loadtest
    target/release/baoming-loadtest {{ARGS}}

# How long the console's pages take with 10,000 registrations in a period (docs/performance.md);
# e.g. `just bench-console --postgres --report docs/bench.md`.
bench-console *ARGS:
    BAOMING_TEST_POSTGRES_URL='{{pg_url}}' cargo run --release -p baoming-api --example console_bench -- {{ARGS}}
