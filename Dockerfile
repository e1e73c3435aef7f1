# webex-cdr-kafka: one image, two processes (ingress | reconcile).
#   docker build -t webex-cdr-kafka .
#   docker run -e KAFKA_BROKERS=... -e SCHEMA_REGISTRY_URL=... -e CDR_FEED=analytics \
#              -e WEBHOOK_SECRETS=... -p 8080:8080 webex-cdr-kafka ingress
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY schemas ./schemas
RUN npx tsc -p tsconfig.build.json

FROM node:24-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY schemas ./schemas
USER node
EXPOSE 8080
ENTRYPOINT ["node", "--disable-warning=TimeoutNegativeWarning", "dist/cli.js"]
CMD ["ingress"]
