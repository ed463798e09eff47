# lindung: one image holding the three daemons and lindungctl.
# Which daemon a container runs is chosen by its command (see docker-compose.yml).
# Build: docker build -t lindung .

# ---------------------------------------------------------------- build stage
FROM debian:12-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libzmq3-dev libpq-dev libcjson-dev uuid-dev libmicrohttpd-dev libgnutls28-dev \
      libcmocka-dev libcsv-dev libxlsxwriter-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build /build -j"$(nproc)" \
 && mkdir -p /out/bin \
 && cp /build/services/intake/lindung-intake \
       /build/services/verify/lindung-verify \
       /build/services/billing/lindung-billing \
       /build/tools/lindungctl/lindungctl /out/bin/ \
 && strip --strip-debug /out/bin/*

# ---------------------------------------------------------------- runtime stage
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libzmq5 libpq5 libcjson1 libuuid1 libmicrohttpd12 libgnutls30 libcsv3 libxlsxwriter4 \
      ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin lindung
COPY --from=build /out/bin/ /usr/local/bin/
# migrations load their seed CSVs from ../seed relative to the migrations dir
COPY db/migrations /usr/share/lindung/db/migrations
COPY db/seed /usr/share/lindung/db/seed
ENV LINDUNG_MIGRATIONS=/usr/share/lindung/db/migrations \
    LINDUNG_LOG_LEVEL=info
USER lindung
# HTTP: intake 8080, verify 8081, billing 8082; ZeroMQ: 5561 (intake PUB),
# 5562 (billing SUB), 5563 (billing control REP)
EXPOSE 8080 8081 8082 5561 5562 5563
CMD ["lindungctl", "--help"]
