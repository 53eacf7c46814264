-- A client's own references on each transaction (an order id, a store receipt): at most 16 keys
-- of [A-Za-z0-9_.-]{1,64}, each to a string of at most 256 characters. The service checks the
-- same shape first; this keeps any other writer to it.
-- A fresh database runs every migration in one transaction, and the seed's transactions still
-- have their deferred balance checks pending, which ALTER TABLE refuses: run them now.
SET CONSTRAINTS ALL IMMEDIATE;

CREATE FUNCTION ledger_metadata_valid(metadata jsonb) RETURNS boolean
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT jsonb_typeof(metadata) = 'object'
       AND (SELECT count(*) FROM jsonb_each(metadata)) <= 16
       AND NOT EXISTS (
         SELECT 1 FROM jsonb_each(metadata) AS pair (key, value)
          WHERE pair.key !~ '^[A-Za-z0-9_.-]{1,64}$'
             OR jsonb_typeof(pair.value) <> 'string'
             OR length(pair.value #>> '{}') > 256
       )
  $$;

ALTER TABLE transactions
  ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}' CHECK (ledger_metadata_valid(metadata));

-- Lookups by metadata (metadata @> '{"orderId":"…"}') go through this index, not a scan.
CREATE INDEX transactions_metadata_idx ON transactions USING gin (metadata jsonb_path_ops);
