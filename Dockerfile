# syntax=docker/dockerfile:1
# ptt-relay container image: a release build on an empty base. The runtime
# stage holds the binary, config/default.toml, exactly the shared libraries
# the binary links (glibc's libc, libm, libgcc_s and the loader, as `ldd`
# lists them; scripts/container-files.sh) and an empty /data owned by the
# non-root user 10001: no shell, no package manager. TLS root certificates
# are compiled into the binary (webpki-roots), so none are copied.
#
# Build from source (what users do):
#   docker build -t ptt-relay .
# Build from a binary built elsewhere (what scripts/container-test.sh does in
# CI, where no Rust image can be pulled): the same `runtime` stage, its files
# taken from a context folder laid out by scripts/container-files.sh:
#   scripts/container-files.sh target/release/ptt-relay DIR
#   docker build --build-arg FILES=prebuilt -f Dockerfile -t ptt-relay DIR
# The binary must be built against a glibc no newer than bookworm's (2.36).

# Where the runtime stage's files come from: `source` (the build stage) or
# `prebuilt` (the build context).
ARG FILES=source

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
COPY scripts/container-files.sh ./scripts/
# Make sure cargo sees the real sources as newer than the dummy build.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin ptt-relay \
    && scripts/container-files.sh target/release/ptt-relay /out

FROM scratch AS files-source
COPY --from=build /out/ /

FROM scratch AS files-prebuilt
COPY rootfs /rootfs
COPY data /data

# hadolint ignore=DL3006
FROM files-${FILES} AS files

FROM scratch AS runtime
COPY --from=files /rootfs/ /
COPY --from=files --chown=10001:10001 /data /data

WORKDIR /app
# TMPDIR: SQLite's temporary files go to the volume (the root is read-only).
ENV PATH=/usr/local/bin \
    TMPDIR=/data \
    PTT_RELAY__STORE__URL=sqlite:///data/ptt-relay.db \
    PTT_RELAY__HTTP__LISTEN=0.0.0.0:9187
VOLUME ["/data"]
EXPOSE 9187
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["ptt-relay", "healthcheck"]
ENTRYPOINT ["ptt-relay"]
CMD ["run"]
