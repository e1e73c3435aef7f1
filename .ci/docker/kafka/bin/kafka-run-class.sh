#!/usr/bin/env bash
# Stand-in for Kafka's kafka-run-class.sh: a class of /opt/kafka/libs on Java, with the usual knobs.
base_dir="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck disable=SC2086 # the options are word lists
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -Djava.awt.headless=true} \
  ${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=${base_dir}/config/tools-log4j2.yaml} ${KAFKA_OPTS:-} \
  -cp "${base_dir}/libs/*" "$@"
