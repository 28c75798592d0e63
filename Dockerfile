# One container running the whole gateway, for Hugging Face Spaces (README front matter: sdk docker, app_port 7860)
# and plain `docker run`. Build: docker build -t veloera-rs .
# Run:   docker run -p 7860:7860 -v veloera-data:/app/data veloera-rs
# The launcher `veloera` starts control-svc, waits until it is ready, then relay-svc on PORT; it stops them in
# that order's reverse on SIGTERM. Data (SQLite, generated secrets) goes to /data when a Space has persistent
# storage there, else to /app/data.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# The admin UI is WebAssembly; `cargo xtask ui` runs wasm-bindgen as a library (pinned in xtask/Cargo.toml and
# admin-yew/Cargo.toml), so no wasm-bindgen CLI is installed.
RUN rustup target add wasm32-unknown-unknown
COPY . .
# --locked everywhere: `cargo metadata --locked` fails when Cargo.lock does not cover the whole workspace (the
# UI's crates included), so the UI build below cannot resolve anything the lock file does not name.
RUN cargo metadata --locked --format-version 1 > /dev/null \
 && cargo xtask ui \
 && cargo build --release --locked -p control-svc -p relay-svc -p veloera-supervisor

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 1000 --create-home veloera \
 && mkdir -p /app/data \
 && chown -R 1000:1000 /app
COPY --from=build /src/target/release/veloera /src/target/release/control-svc /src/target/release/relay-svc /usr/local/bin/
COPY --from=build /src/admin-yew/dist /app/ui
WORKDIR /app
# Spaces run containers as uid 1000.
USER 1000
# The seed's defaults (the Space README lists them). DATA_DIR is left to the launcher: /data when writable, else
# /app/data; the SQLite file of SQL_DSN follows it.
ENV PORT=7860 \
    SQL_DSN=sqlite:///app/data/veloera.db \
    MEMORY_CACHE_ENABLED=true \
    GENERATE_DEFAULT_TOKEN=true \
    ADMIN_UI_DIR=/app/ui
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["veloera", "healthcheck"]
CMD ["veloera"]
