-- Idempotency records are kept IDEMPOTENCY_RETENTION (30 days by default), then pruned by the
-- service in small batches, oldest first: this index lets each batch find them without a scan.
CREATE INDEX idempotency_records_created_at_idx ON idempotency_records (created_at);
