-- The X-Request-Id of the request whose outcome a key stores. Error bodies name their request,
-- so a replay puts the first request's id back and returns the first body byte for byte.
ALTER TABLE idempotency_records
  ADD COLUMN request_id varchar(128) CHECK (request_id ~ '^[A-Za-z0-9._:-]{1,128}$');
