# One container with both services, for Hugging Face Spaces (a single public port, 7860).
# Build: docker build -t veloera-rs .   Run: docker run -p 7860:7860 -v veloera-data:/app/data veloera-rs
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo xtask ui \
 && cargo build --release --locked -p control-svc -p relay-svc

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 1000 --create-home veloera \
 && mkdir -p /app/data \
 && chown -R 1000:1000 /app
COPY --from=build /src/target/release/control-svc /src/target/release/relay-svc /usr/local/bin/
COPY --from=build /src/admin-yew/dist /app/ui
WORKDIR /app
USER 1000
ENV PORT=7860 \
    SQL_DSN=sqlite:///app/data/veloera.db \
    DATA_DIR=/app/data \
    ADMIN_UI_DIR=/app/ui \
    MEMORY_CACHE_ENABLED=true \
    GENERATE_DEFAULT_TOKEN=true
EXPOSE 7860
VOLUME /app/data
HEALTHCHECK --interval=30s --timeout=5s CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/7860 && printf 'GET /api/status HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q success <&3"]
# control first (it writes the internal secret the relay reads); on stop, the relay drains usage before control stops.
CMD ["bash", "-c", "control-svc & c=$!; relay-svc & r=$!; trap 'kill -TERM $r; wait $r; kill -TERM $c; wait $c' TERM INT; wait -n; kill -TERM $r $c 2>/dev/null; wait"]
