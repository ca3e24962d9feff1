# The collaborative inbox backend: one image for the web processes, `npm run db:migrate` and
# `npm run admin:init`. Build: docker build -t collab-inbox .   (see README, "Running in production")
# The web console (web/, Vite + Preact) is built in its own stage with the dev dependencies; the
# image takes only its output, web/dist.
FROM node:22-bookworm-slim AS console
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY web ./web
RUN node web/build.mjs --force

FROM node:22-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first (cached while package*.json do not change). tsx runs the TypeScript sources,
# so it is a runtime dependency; dev dependencies (tests, drizzle-kit, biome) are left out.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

# The sources, owned by root and read-only to the server; only /app/data (embedded PGlite, unused
# with DATABASE_URL) is writable by the `node` user the server runs as.
COPY . .
COPY --from=console /build/web/dist ./web/dist
RUN mkdir -p /app/data && chown node:node /app/data
USER node

EXPOSE 2567
# Ready means the database (and Redis, when REDIS_URL is set) answer: /readyz answers within 2 s.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||2567)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM reaches node directly (exec form): the server stops cleanly (server/main.ts).
CMD ["node", "--import", "tsx", "server/main.ts"]
