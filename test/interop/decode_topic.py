"""Reads a CDR topic with clients nobody on this project wrote: confluent-kafka's
Consumer and its schema-registry AvroDeserializer. Prints one JSON object per
record (key, headers, decoded value with timestamps as epoch milliseconds).
With --reader-schema, the deserializer resolves every record, whatever schema
wrote it, into that schema (a consumer that has moved to a newer contract)."""
import argparse
import datetime
import json
import sys
import time
import uuid

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def plain(value):
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--registry", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--reader-schema")
    a = p.parse_args()

    registry = SchemaRegistryClient({"url": a.registry})
    if a.reader_schema:
        with open(a.reader_schema, encoding="utf-8") as f:
            deserialize = AvroDeserializer(registry, schema_str=f.read())
    else:
        deserialize = AvroDeserializer(registry)
    consumer = Consumer(
        {
            "bootstrap.servers": a.bootstrap,
            "group.id": f"interop-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([a.topic])
    seen = 0
    until = time.time() + a.timeout
    try:
        while seen < a.count and time.time() < until:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                print(f"consumer error: {msg.error()}", file=sys.stderr)
                continue
            value = deserialize(msg.value(), SerializationContext(a.topic, MessageField.VALUE))
            headers = {k: v.decode() for k, v in (msg.headers() or [])}
            key = msg.key().decode() if msg.key() is not None else None
            print(json.dumps({"key": key, "headers": headers, "value": plain(value)}))
            seen += 1
    finally:
        consumer.close()
    return 0 if seen >= a.count else 1


if __name__ == "__main__":
    sys.exit(main())
