# Modelgate image: the API, the worker and the CLI (one image, the command picks the process).
# Built by docker-compose.yml, which gives each process its own environment and secrets; the Temporal CLI is built with the same pinned version as
# temporal/install.sh so that the setup job registers search attributes the same way.

FROM golang:1.24-bookworm AS temporal-cli
ARG TEMPORAL_CLI_VERSION=v1.5.1
RUN GOBIN=/out go install "github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}"

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
RUN npx tsc -p tsconfig.build.json && node web/build.mjs && npm prune --omit=dev

FROM node:20-bookworm-slim
# git (and ssh for git remotes) for the GitOps deployment provider.
RUN apt-get update && apt-get install -y --no-install-recommends git openssh-client ca-certificates && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
# Fewer malloc arenas keep the worker's resident set small (see README, Benchmarks).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=temporal-cli /out/temporal /usr/local/bin/temporal
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY policies ./policies
COPY temporal ./temporal
COPY scripts ./scripts
# The worker's content-addressed store of verified artifacts (ARTIFACT_STORE_DIR; a volume in docker-compose.yml).
RUN mkdir -p /var/lib/modelgate/artifact-store && chown node:node /var/lib/modelgate/artifact-store
USER node
EXPOSE 8080
CMD ["node", "dist/api/server.js"]
