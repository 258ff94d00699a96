# Developer recipes. They only wrap cargo; README.md says which one to start with.

set shell := ["bash", "-euo", "pipefail", "-c"]

# The cargo-deb that builds the Debian package (`just deb`).
cargo_deb := "3.8.0"

# The PostgreSQL server the PostgreSQL half of the suite creates its databases on (in clear on
# loopback: the compiled-in libpq has no TLS, see Cargo.toml).
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

# The workspace's layering, as CI checks it: the worker does not link actix-web, a build
# without the simulators (as packaged) carries no simulator and no development key, and the
# binaries link no system library but libc's (SQLite and libpq compiled in, rustls for TLS).
layout:
    ! cargo tree -p baoming-worker -e normal --prefix none | grep -q '^actix-web '
    ! cargo tree -p baoming-api -p baoming-worker --no-default-features -e normal --prefix none | grep -Eq '^baoming-(wechat-sim|wechatpay-sim|dev-keys) '
    cargo check -p baoming-api -p baoming-worker --no-default-features
    cargo build -p baoming-api -p baoming-worker
    ! ldd "${CARGO_TARGET_DIR:-target}"/debug/baoming-{api,worker} | grep -E 'lib(pq|sqlite3|ssl|crypto)\.'

# Check the systemd units (deploy/systemd) with `systemd-analyze verify`, against the built
# binaries (docs/operations.md).
verify-units:
    cargo build -p baoming-api -p baoming-worker
    deploy/verify-units "${CARGO_TARGET_DIR:-target}/debug"

# Fuzz the live API with schemathesis against its `/openapi.json` (.ci/fuzz): participant and
# back-office routes, no 5xx and every answer as documented; extra arguments go to schemathesis.
fuzz *ARGS:
    .ci/fuzz {{ARGS}}

# The Debian package (docs/operations.md, "Install"): both binaries in release without the
# simulators, packed by cargo-deb (pinned; installed when missing) with the systemd units, the
# example configuration and deploy/debian's maintainer scripts (bins/api/Cargo.toml,
# [package.metadata.deb]). The last line printed is the path of the .deb.
deb:
    command -v cargo-deb >/dev/null && [[ $(cargo deb --version) == *" {{cargo_deb}}"* ]] || \
        cargo install cargo-deb --version {{cargo_deb}} --locked
    cargo build --release --locked -p baoming-api -p baoming-worker --no-default-features
    cargo deb -p baoming-api --no-build

# Build the package and try it on this machine as root (.ci/check-deb): contents, units as
# installed, `dpkg -i`, migrations on SQLite and on a fresh PostgreSQL database, purge.
deb-check:
    .ci/check-deb

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
