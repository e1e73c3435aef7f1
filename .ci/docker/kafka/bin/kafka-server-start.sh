#!/usr/bin/env bash
# Stand-in for Kafka's kafka-server-start.sh: the broker (kafka.Kafka) on the given properties.
base_dir="$(cd "$(dirname "$0")/.." && pwd)"
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms64m -Xmx512m}"
export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=${base_dir}/config/log4j2.yaml}"
exec "${base_dir}/bin/kafka-run-class.sh" kafka.Kafka "$@"
