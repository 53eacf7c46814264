# syntax=docker/dockerfile:1
# Dino Wallet on the official Bun image. Production sets DATABASE_URL; without it the service
# refuses to start (EMBEDDED_DATABASE=false below), unless run with EMBEDDED_DATABASE=true, which
# starts an embedded PostgreSQL whose data lives in /app/.data (mount a volume there).

ARG BUN_VERSION=1.4.5

# Dependencies from the committed bun.lock, runtime only: Bun runs the TypeScript sources directly.
FROM oven/bun:${BUN_VERSION} AS deps
WORKDIR /app
# The workspace's package manifests are part of the lockfile: bun refuses a frozen install without them.
COPY package.json bun.lock ./
COPY packages/client/package.json ./packages/client/
COPY packages/cli/package.json ./packages/cli/
RUN bun install --production --frozen-lockfile

FROM oven/bun:${BUN_VERSION}-slim AS runtime
WORKDIR /app
# BUN_JSC_forceRAMSize: JavaScriptCore sizes its heap from the machine's memory; telling it
# 256 MiB makes it collect garbage sooner (peak RSS ~210 MB instead of ~300 MB under 256
# clients, same CPU per request; 128 MiB cut more but cost ~30 % CPU; see the README).
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    LOG_FORMAT=json \
    EMBEDDED_DATABASE=false \
    BUN_JSC_forceRAMSize=268435456
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY migrations ./migrations
# The image's unprivileged `bun` user runs the service and owns only the embedded data folder.
RUN mkdir -p /app/.data && chown bun:bun /app/.data
USER bun
EXPOSE 3000
# The slim image has no curl; Bun's fetch asks the service's own liveness endpoint, which does not
# ask the database: an outage of the database must not mark every container unhealthy at once.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["bun", "-e", "fetch(`http://127.0.0.1:${process.env.PORT ?? 3000}/api/health/live`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: bun is PID 1 and gets SIGTERM itself, so it drains requests in flight before exiting.
STOPSIGNAL SIGTERM
CMD ["bun", "run", "src/main.ts"]
