# syntax=docker/dockerfile:1
# ptt-relay container image: a release build on Debian bookworm, run as a
# non-root user on bookworm-slim. Build: docker build -t ptt-relay .

FROM rust:1.95-bookworm AS build
WORKDIR /src

# Dependencies first, in their own layer: a change to src/ does not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/parse.rs \
    && cargo build --release --locked \
    && rm -rf src benches

COPY src ./src
COPY benches ./benches
COPY config ./config
# Make sure cargo sees the real sources as newer than the dummy build.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin ptt-relay \
    && cp target/release/ptt-relay /usr/local/bin/ptt-relay

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin ptt-relay \
    && mkdir -p /data /app/config \
    && chown ptt-relay:ptt-relay /data

COPY --from=build /usr/local/bin/ptt-relay /usr/local/bin/ptt-relay
COPY --from=build /src/config/default.toml /app/config/default.toml

WORKDIR /app
ENV PTT_RELAY__STORE__URL=sqlite:///data/ptt-relay.db \
    PTT_RELAY__HTTP__LISTEN=0.0.0.0:9187
VOLUME ["/data"]
EXPOSE 9187
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["ptt-relay", "healthcheck"]
ENTRYPOINT ["ptt-relay"]
CMD ["run"]
