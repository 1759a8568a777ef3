# syntax=docker/dockerfile:1
# The tower image: tower-proxy (the default entrypoint) and tower-agent, as user 65532,
# with no shell. Where no base image can be pulled, dev/image/build.sh assembles the same
# layout (node in /usr/local/bin, the app in /app, Debian 12's glibc and libstdc++) into
# an OCI image layout; both build /app with dev/image/build-app.sh.
#
#   docker build -t tower:0.1.0 .
ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
COPY patches ./patches
# Development dependencies for tsc only; scripts run deliberately (build-app.sh).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
RUN npx tsc -p tsconfig.json
COPY dev/image/build-app.sh ./dev/image/build-app.sh
# Production dependencies, the ssh2 patch and the native addons for this node (headers in /usr/local/include/node).
RUN dev/image/build-app.sh /src /app /usr/local \
 && mkdir -p /out/usr/local/bin \
 && cp /usr/local/bin/node /out/usr/local/bin/node \
 && ln -s /app/bin/tower-proxy /out/usr/local/bin/tower-proxy \
 && ln -s /app/bin/tower-agent /out/usr/local/bin/tower-agent

# glibc, libgcc and libstdc++ of Debian 12, user nonroot (65532), no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /
COPY --from=build /app /app
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production
WORKDIR /app
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["tower-proxy"]
