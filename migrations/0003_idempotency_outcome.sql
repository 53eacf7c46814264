-- An idempotency record stores the domain outcome of its request (APPLIED, INSUFFICIENT_FUNDS,
-- BALANCE_LIMIT) and that outcome's body; the HTTP status is the edge's choice, made when the
-- record is replayed, so the ledger no longer keeps one.

ALTER TABLE idempotency_records
  ADD COLUMN outcome varchar(20) CHECK (outcome IN ('APPLIED', 'INSUFFICIENT_FUNDS', 'BALANCE_LIMIT'));

UPDATE idempotency_records
   SET outcome = CASE status_code WHEN 201 THEN 'APPLIED' WHEN 409 THEN 'INSUFFICIENT_FUNDS' ELSE 'BALANCE_LIMIT' END
 WHERE status_code IS NOT NULL;

-- Dropping the column drops the two CHECKs that named it; they come back in terms of outcome.
ALTER TABLE idempotency_records DROP COLUMN status_code;

ALTER TABLE idempotency_records
  ADD CONSTRAINT idempotency_records_complete CHECK ((outcome IS NULL) = (response_body IS NULL)),
  ADD CONSTRAINT idempotency_records_applied_names_transaction
    CHECK (outcome IS DISTINCT FROM 'APPLIED' OR transaction_id IS NOT NULL);
