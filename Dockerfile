# The TES server and worker image: `tes server` (the API), `tes worker` (the worker pool) or
# `tes serve` (both in one process). Build from the repository root:
#   docker build -t tes-azure/server .
# Run:  docker run -p 8000:8000 -e DATABASE_URL=... -e REDIS_URL=... tes-azure/server server
# The Azure Batch runner image is the `runner` stage: docker build --target runner -t tes-azure/runner .
# Every setting is an environment variable (docs/CONFIGURATION.md; operating it: docs/RUNBOOK.md).

# 1. Compile the server, the worker and the filetransfer workspace it imports.
FROM node:20.20-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 compiles from source when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY filetransfer/package.json filetransfer/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY worker worker
COPY filetransfer/tsconfig.build.json filetransfer/
COPY filetransfer/src filetransfer/src
RUN npm run build && npm run build --workspace @tes-azure/filetransfer

# 2. Production dependencies only (native modules built once, here).
FROM node:20.20-bookworm-slim AS runtime-deps
WORKDIR /src
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY filetransfer/package.json filetransfer/
RUN npm ci --omit=dev --no-audit --no-fund

# 3. The Docker client alone, from Debian's docker.io package (the package also holds the engine,
#    containerd and runc, which the runner does not need: only /usr/bin/docker is taken).
FROM node:20.20-bookworm-slim AS docker-cli
WORKDIR /tmp/docker-cli
RUN apt-get update \
 && apt-get download docker.io \
 && dpkg-deb -x docker.io_*.deb /tmp/docker-cli/root \
 && rm -rf /var/lib/apt/lists/*

# 4. The runner image for Azure Batch nodes (AZURE_BATCH_RUNNER_IMAGE), from the same build:
#      docker build --target runner -t tes-azure/runner .
#    Batch runs each task's command line in it (`/bin/sh -c '... node .../cli.js run ...'`, the
#    default AZURE_BATCH_RUNNER), with the node's Docker socket mounted; the runner starts the
#    executors on the node's engine through this client. Root, because the socket belongs to root and
#    the node's docker group, whose id differs between images. No ENTRYPOINT of its own: the base
#    image's runs the command line it is given.
FROM node:20.20-bookworm-slim AS runner
# The "production" condition picks the filetransfer workspace's compiled output, as in the server image.
ENV NODE_ENV=production \
    NODE_OPTIONS=--conditions=production
COPY --from=docker-cli /tmp/docker-cli/root/usr/bin/docker /usr/local/bin/docker
WORKDIR /opt/tes
COPY --from=runtime-deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/filetransfer/dist ./filetransfer/dist
COPY package.json ./
COPY filetransfer/package.json ./filetransfer/
USER root

# 5. The server and worker (the default target): no compiler, no dev dependencies, not root.
FROM node:20.20-bookworm-slim
ENV NODE_ENV=production \
    PORT=8000 \
    TES_DATA_DIR=/var/lib/tes \
    LOG_FORMAT=json
# bubblewrap: the local backend's sandbox (TES_BACKEND=local); the Azure Batch backend needs nothing.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/tes \
 && chown node:node /var/lib/tes
WORKDIR /opt/tes
COPY --from=runtime-deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/filetransfer/dist ./filetransfer/dist
COPY package.json ./
COPY filetransfer/package.json ./filetransfer/
USER node
EXPOSE 8000
# /healthz: the process is alive (readiness, /readyz, is for the load balancer, not for restarts).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The "production" condition picks the filetransfer workspace's compiled output (in the
# repository it exports its TypeScript source, which tsx runs).
ENTRYPOINT ["node", "--conditions=production", "/opt/tes/dist/src/cli.js"]
CMD ["server"]
