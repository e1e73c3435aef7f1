# STAND-IN for confluentinc/cp-schema-registry (no image registry can be reached from CI): built
# locally by .ci/compose-up and .ci/testcontainers (standin_images, .ci/docker-engine) under the
# same name and tag. It is NOT Confluent Schema Registry but
# Apicurio Registry 2.6.13.Final from its Maven Central distribution (the one the local stack runs,
# `npm run stack`), with its in-memory storage (not a Kafka topic). Its Confluent-compatible API is
# under /apis/ccompat/v7, not at /: docker-compose.host.yml points SCHEMA_REGISTRY_URL and the
# healthcheck there. SCHEMA_REGISTRY_LISTENERS (http://host:port) sets where it listens.
FROM debian:bookworm-slim
# The same first layer as kafka.Dockerfile (built once, cached): a headless Java 17 and curl.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless curl \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 1000 appuser && useradd --uid 1000 --gid appuser --home-dir /home/appuser --create-home appuser
COPY app /opt/apicurio
COPY run /etc/schema-registry/run
USER appuser
EXPOSE 8081
CMD ["/etc/schema-registry/run"]
