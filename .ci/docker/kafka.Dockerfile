# STAND-IN for apache/kafka (no image registry can be reached from CI): built locally by
# .ci/compose-up and .ci/testcontainers (standin_images, .ci/docker-engine) under the same name
# and tag, from the Maven Central jars the local stack runs
# (`npm run stack`, Kafka 4.4.0), laid out like the official image: /opt/kafka/libs, bin, config,
# /etc/kafka/docker/run, and KafkaDockerWrapper (in the broker jar) turning KAFKA_* variables into
# server.properties and formatting the storage. Not the official image: no JMX setup, no SSL
# helpers, only the bin/ scripts docker-compose.yml uses (written here, not Kafka's own).
FROM debian:bookworm-slim
# The same first layer as schema-registry.Dockerfile (built once, cached): a headless Java 17 and curl.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless curl \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 1000 appuser && useradd --uid 1000 --gid appuser --home-dir /home/appuser --create-home appuser \
 && mkdir -p /opt/kafka/config /mnt/shared/config /var/lib/kafka/data \
 && chown appuser:appuser /opt/kafka/config /var/lib/kafka/data
COPY libs /opt/kafka/libs
COPY bin /opt/kafka/bin
COPY docker /etc/kafka/docker
ENV PATH=/opt/kafka/bin:$PATH
USER appuser
WORKDIR /opt/kafka
EXPOSE 9092
CMD ["/etc/kafka/docker/run"]
