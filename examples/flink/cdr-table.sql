-- Flink SQL: the CDR topic as a table (Kafka connector, avro-confluent format).
-- Needs flink-sql-connector-kafka and flink-sql-avro-confluent-registry on the classpath.
-- Only a few of the 83 columns are declared: a table may name any subset of the
-- Avro fields (names are the snake_case names of schemas/cdr.avsc).
CREATE TABLE webex_calling_cdr (
  -- Key: the customer org, as a raw UTF-8 string.
  org_id STRING,
  -- Value fields (Avro, Confluent wire format, schema from the registry).
  report_id STRING,
  report_time TIMESTAMP(3),
  start_time TIMESTAMP(3),
  release_time TIMESTAMP(3),
  call_type STRING,
  direction STRING,
  answered BOOLEAN,
  duration BIGINT,
  calling_number STRING,
  called_number STRING,
  -- Seen in live data, not in Webex's field list: schema fields since contract v2.
  external_customer_id STRING,
  transfer_type STRING,
  transfer_type_context STRING,
  answer_reason STRING,
  extra_fields MAP<STRING, STRING>,
  ingest ROW<feed STRING, source STRING, received_at TIMESTAMP(3), delivery_id STRING>,
  -- Headers and record metadata.
  headers MAP<STRING, BYTES> METADATA FROM 'headers' VIRTUAL,
  cdr_source AS CAST(headers['cdr-source'] AS STRING),
  cdr_report_id AS CAST(headers['cdr-report-id'] AS STRING),
  -- 2, 3, ... on a later version of a Report ID (absent on the first).
  cdr_version AS CAST(headers['cdr-version'] AS STRING),
  kafka_time TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  WATERMARK FOR report_time AS report_time - INTERVAL '15' MINUTE
) WITH (
  'connector' = 'kafka',
  'topic' = 'webex.calling.cdr',
  'properties.bootstrap.servers' = 'kafka:9092',
  'properties.group.id' = 'flink-webex-cdr',
  'scan.startup.mode' = 'earliest-offset',
  'key.format' = 'raw',
  'key.fields' = 'org_id',
  'value.format' = 'avro-confluent',
  'value.avro-confluent.url' = 'http://schema-registry:8081',
  'value.fields-include' = 'EXCEPT_KEY'
);

-- One row per Report ID, the latest Report time winning. The connector drops
-- repeats before the topic, but a changed record is a new version (cdr-version
-- header), and two ingress replicas can both publish a repeat that reaches them
-- within the dedup tail's lag: keep the latest, as Webex advises.
CREATE VIEW webex_calling_cdr_latest AS
SELECT * FROM (
  SELECT *,
    ROW_NUMBER() OVER (PARTITION BY report_id ORDER BY report_time DESC, kafka_time DESC) AS version_rank
  FROM webex_calling_cdr
) WHERE version_rank = 1;
