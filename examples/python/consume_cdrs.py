"""Reads Webex Calling CDRs from the webex-cdr-kafka topic with confluent-kafka.

- The value is Avro in the Confluent wire format: AvroDeserializer fetches the
  writer's schema from the schema registry by the id in each record.
- The headers carry what a consumer needs before decoding: cdr-report-id (the
  dedup key), cdr-report-time, cdr-call-end, cdr-source, cdr-feed, cdr-delivery-id,
  and cdr-version (2, 3, ...) on a later version of a Report ID.
- The connector drops repeats before the topic, but the same Report ID can still
  arrive more than once: a changed record is a new version, and two ingress
  replicas can both publish a repeat within the dedup tail's lag (or DEDUP is
  off). Keep the version with the latest cdr-report-time (then the higher
  cdr-version) and skip the rest. This example keeps the dedup state in memory;
  a real consumer keeps it where its output goes (for example a primary key on
  report_id).
- Contract v2 made four keys seen in live data schema fields: external_customer_id,
  transfer_type, transfer_type_context, answer_reason (None when Webex did not
  send them); the line printed names them.

Prints one JSON line per record kept; a summary goes to stderr at the end.

    pip install 'confluent-kafka[avro,schemaregistry]'
    python consume_cdrs.py --bootstrap localhost:29092 --registry http://localhost:8081 \
        --topic webex.calling.cdr --group cdr-example
"""
import argparse
import datetime
import json
import signal
import sys
import time

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def as_json(value):
    """Avro timestamp-millis fields decode to datetimes; print them as ISO 8601."""
    if isinstance(value, datetime.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    return value


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers")
    p.add_argument("--registry", required=True, help="schema registry URL")
    p.add_argument("--topic", default="webex.calling.cdr")
    p.add_argument("--group", required=True, help="consumer group id")
    p.add_argument("--idle-exit", type=float, default=0,
                   help="stop after this many seconds without a record (0: run until Ctrl-C)")
    a = p.parse_args()

    deserialize = AvroDeserializer(SchemaRegistryClient({"url": a.registry}))
    consumer = Consumer({
        "bootstrap.servers": a.bootstrap,
        "group.id": a.group,
        "auto.offset.reset": "earliest",
        # Commit only what was handled: offsets are stored after processing.
        "enable.auto.offset.store": False,
    })
    consumer.subscribe([a.topic])

    latest = {}  # Report ID -> (Report time (ISO 8601), version) of the version kept
    stats = {"read": 0, "kept": 0, "duplicates": 0, "older_versions": 0}
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    last_record = time.monotonic()
    try:
        while not stopping:
            msg = consumer.poll(1.0)
            if msg is None:
                if a.idle_exit and time.monotonic() - last_record > a.idle_exit:
                    break
                continue
            if msg.error():
                print(f"consumer error: {msg.error()}", file=sys.stderr)
                continue
            last_record = time.monotonic()
            stats["read"] += 1
            headers = {k: v.decode("utf-8") for k, v in (msg.headers() or [])}
            report_id = headers["cdr-report-id"]
            report_time = headers.get("cdr-report-time", "")
            version = (report_time, int(headers.get("cdr-version", "1")))
            seen = latest.get(report_id)
            # ISO 8601 UTC strings of one format compare in time order.
            if seen is not None and version <= seen:
                stats["duplicates" if version == seen else "older_versions"] += 1
                consumer.store_offsets(msg)
                continue
            value = deserialize(msg.value(), SerializationContext(msg.topic(), MessageField.VALUE))
            latest[report_id] = version
            stats["kept"] += 1
            print(json.dumps({
                "org": msg.key().decode("utf-8") if msg.key() is not None else None,
                "report_id": report_id,
                "report_time": report_time,
                "call_end": headers.get("cdr-call-end"),
                "source": headers["cdr-source"],
                "feed": headers["cdr-feed"],
                "replaces_earlier_version": seen is not None,
                "external_customer_id": value.get("external_customer_id"),
                "transfer_type": value.get("transfer_type"),
                "transfer_type_context": value.get("transfer_type_context"),
                "answer_reason": value.get("answer_reason"),
                "value": as_json(value),
            }), flush=True)
            consumer.store_offsets(msg)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()  # commits the stored offsets
    print(json.dumps(stats), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
