# pai's container image: Debian 12 (bookworm) with Node.js 20, oneDNN from Debian, pai built from
# this checkout with its native backend, and its test suite run as a build stage: the image is only
# produced when the tests pass. It is the image that `pai run --emit k8s` (and `--emit slurm
# --image`) names by default; build it under that name, its package name and version:
#
#   docker build -t pai-prune:0.1.0 .          (or: buildah bud -t pai-prune:0.1.0 .)
#   docker run --rm pai-prune:0.1.0 pai demo --quick --out /tmp/demo
#
# scripts/dockerfile-test.mjs runs these steps outside a container where no image builder can.

# ---- build: system packages, npm ci (its install step builds the native addon), compile ----
FROM node:20-bookworm AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends libdnnl-dev g++ make python3 fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
# npm 10 (Node 20's) does not read package.json's allowScripts; this keeps onnxruntime-node, a dev
# dependency, from downloading its GPU libraries at install as well.
ENV ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /opt/pai
COPY . .
RUN npm ci && npm run build && test -f build/Release/pai_native.node

# ---- test: the whole suite, on the native backend and on the TypeScript one where it asks ----
FROM build AS test
RUN npm test && touch /opt/pai/.tests-passed

# ---- prod: what running pai needs ----
FROM build AS prod
RUN npm prune --omit=dev && rm -rf dist/test dist/bench

# ---- the image ----
FROM node:20-bookworm-slim
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends libdnnl2 libgomp1 fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
# Taking a file from the test stage makes the image depend on it, so a failing test fails the build.
COPY --from=test /opt/pai/.tests-passed /opt/pai/.tests-passed
COPY --from=prod /opt/pai /opt/pai
RUN chmod +x /opt/pai/dist/src/cli/main.js && ln -s /opt/pai/dist/src/cli/main.js /usr/local/bin/pai && pai --version
WORKDIR /work
CMD ["pai", "--help"]
