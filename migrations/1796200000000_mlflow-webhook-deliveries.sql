-- Up Migration

-- MLflow webhook deliveries the API accepted, by MLflow's X-MLflow-Delivery-Id: a delivery seen
-- before is refused (a replay within the timestamp window). Rows older than the window are
-- pruned when new deliveries arrive.
CREATE TABLE mlflow_webhook_deliveries (
  delivery_id text PRIMARY KEY,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mlflow_webhook_deliveries_received_at ON mlflow_webhook_deliveries (received_at);
-- The API (the service role) remembers deliveries and forgets those older than the window.
GRANT SELECT, INSERT, DELETE ON mlflow_webhook_deliveries TO modelgate_service;

-- Down Migration

DROP TABLE mlflow_webhook_deliveries;
