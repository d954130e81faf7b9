# The flash-sale shop as one image: build with the compilers, run without them.
#
#   docker build -t flash-sale .
#   docker run -p 3000:3000 -e COOKIE_KEYS=$(openssl rand -base64 16) flash-sale
#
# Behind a TLS-intercepting proxy, pass its CA bundle in (see README, "Docker"):
#   --build-arg NODE_EXTRA_CA_CERTS=/etc/extra-ca.pem with the file mounted at that path.

# ---- build: install everything, compile TypeScript, then drop dev dependencies ----
FROM node:20-bookworm-slim AS build

# Empty by default; when set, npm (Node) trusts this extra CA bundle during the build.
ARG NODE_EXTRA_CA_CERTS=
ENV npm_config_update_notifier=false

# better-sqlite3 compiles from source when its prebuilt binary cannot be downloaded.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

COPY package.json package-lock.json ./
# `npm install`, not `npm ci`: see TOOLCHAIN notes in the README. The node image ships Node's headers, so
# node-gyp uses them instead of downloading them.
RUN if [ -f /usr/local/include/node/node.h ]; then export npm_config_nodedir=/usr/local; fi \
 && npm install --no-audit --no-fund --loglevel=warn

# The app's sources only: operator tooling (tools/: the bench, the chaos drill) never ships, and
# tsconfig.build.json does not include it.
COPY tsconfig.json tsconfig.build.json ormconfig.ts ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund --loglevel=warn

# ---- runtime: compiled code, production dependencies, views and static files ----
FROM node:20-bookworm-slim AS runtime

ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0

WORKDIR /app

RUN groupadd --gid 10001 flashsale \
 && useradd --uid 10001 --gid flashsale --no-create-home --home-dir /app --shell /usr/sbin/nologin flashsale \
 && mkdir -p /app/data \
 && chown flashsale:flashsale /app/data

COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY views ./views
COPY public ./public

USER flashsale

EXPOSE 3000

HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# Migrations first (fails fast on bad configuration), then the app as PID 1 so it receives SIGTERM and
# finishes accepted orders before it exits.
CMD ["sh", "-c", "node dist/src/cli/migrate.js && exec node dist/src/server.js"]
