# webex-cdr-kafka: one image for every subcommand (ingress | reconcile | simulate | tail | schema).
#   docker build -t webex-cdr-kafka .
#   docker run -e KAFKA_BROKERS=... -e SCHEMA_REGISTRY_URL=... -e CDR_FEED=analytics \
#              -e WEBHOOK_SECRETS=... -p 8080:8080 webex-cdr-kafka ingress
#   docker run -e ... -e RECONCILER_PORT=9464 webex-cdr-kafka reconcile
# docker-compose.yml runs the whole pipeline with Kafka, a schema registry and the Webex stand-in.

# Build: TypeScript -> dist/ (dev dependencies stay in this stage).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY schemas ./schemas
RUN npx tsc -p tsconfig.build.json

# Run: production dependencies only, compiled code, the Avro contract; as the unprivileged `node` user.
FROM node:24-bookworm-slim
# `docker stop` sends SIGTERM and SIGKILLs 10 s later (a Dockerfile cannot change that), so the
# image's shutdown deadline is 8 s: a draining process still ends with its own exit code and log
# line. For a longer drain raise SHUTDOWN_TIMEOUT_MS and the grace period together (docker run
# --stop-timeout, compose stop_grace_period, Kubernetes terminationGracePeriodSeconds): docs/operations.md, Shutdown.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 SHUTDOWN_TIMEOUT_MS=8000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY schemas ./schemas
USER node
EXPOSE 8080
# No curl in the slim image: Node's fetch asks /healthz of the ingress (PORT), or of the
# reconciler when RECONCILER_PORT is set. `simulate` and `tail` serve no /healthz: give
# them a healthcheck of their own (see docker-compose.yml) or none.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const p=process.env.RECONCILER_PORT||process.env.PORT;fetch('http://127.0.0.1:'+p+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# V8 flags as in the shebang of src/bin.ts (a young generation of 8 MiB semi-spaces; an idle heap
# not shrunk, so a delivery after a quiet spell is not slowed by collections: see docs/performance.md)
ENTRYPOINT ["node", "--max-semi-space-size=8", "--no-memory-reducer", "dist/bin.js"]
CMD ["ingress"]
