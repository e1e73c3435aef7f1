-- PostgreSQL: the table the JDBC sink (jdbc-sink-postgres.json) upserts into,
-- created before the connector starts so that an upsert only overwrites a row
-- with a version whose Report time is not earlier. The sink's own upsert
-- (INSERT ... ON CONFLICT (report_id) DO UPDATE) overwrites whatever arrives
-- last; the trigger below skips an update that would put an earlier version
-- back. Only the columns this guard and the contract v2 additions need are
-- declared; the sink's auto.evolve adds the other schema fields as they come.
CREATE TABLE IF NOT EXISTS webex_calling_cdr (
  report_id TEXT PRIMARY KEY,
  report_time TIMESTAMP,
  org_uuid TEXT,
  -- Seen in live data, not in Webex's field list: schema fields since contract v2.
  external_customer_id TEXT,
  transfer_type TEXT,
  transfer_type_context TEXT,
  answer_reason TEXT
);

CREATE OR REPLACE FUNCTION webex_calling_cdr_keep_latest() RETURNS trigger AS $$
BEGIN
  -- NULL skips this row's update: the stored version is the later one.
  IF NEW.report_time < OLD.report_time THEN
    RETURN NULL;
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS keep_latest ON webex_calling_cdr;
CREATE TRIGGER keep_latest BEFORE UPDATE ON webex_calling_cdr
  FOR EACH ROW EXECUTE FUNCTION webex_calling_cdr_keep_latest();
