-- Scoped API keys. A key's secret is shown once, when it is made; only its SHA-256 is kept, so a
-- copy of this table opens nothing (the secrets are 32 random bytes, so no salt or slow hash is
-- needed to stop a guess). Keys are revoked, never deleted: transactions name the key that wrote
-- them.
CREATE TABLE api_keys (
  id          uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
  name        varchar(100) NOT NULL CHECK (length(name) > 0),
  scopes      varchar(8)[] NOT NULL
              CHECK (cardinality(scopes) BETWEEN 1 AND 3 AND scopes <@ ARRAY['read', 'write', 'admin']::varchar(8)[]),
  key_hash    bytea        NOT NULL UNIQUE CHECK (length(key_hash) = 32),
  created_at  timestamptz  NOT NULL DEFAULT now(),
  -- Set once, never cleared. Keys are only ever added and revoked, so (count(*), count(revoked_at))
  -- changes with every change: each process polls that pair to refresh its copy of the table.
  revoked_at  timestamptz
);

-- The refresh above relies on it, so the database holds it too: a key is revoked at most once and
-- otherwise never changes, and no key is deleted.
CREATE FUNCTION api_keys_revoke_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'API keys are revoked, never deleted';
  END IF;
  IF NEW.id <> OLD.id OR NEW.name <> OLD.name OR NEW.scopes <> OLD.scopes OR NEW.key_hash <> OLD.key_hash
     OR NEW.created_at <> OLD.created_at
     OR (OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at) THEN
    RAISE EXCEPTION 'An API key can only be revoked, once';
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER api_keys_revoke_only BEFORE UPDATE OR DELETE ON api_keys
  FOR EACH ROW EXECUTE FUNCTION api_keys_revoke_only();

-- On a fresh database every migration runs in one transaction, and the seed's transactions still
-- have their balance check (a deferred constraint trigger) pending: PostgreSQL refuses to ALTER a
-- table with pending trigger events. Checking them now, instead of at COMMIT, clears them.
SET CONSTRAINTS ALL IMMEDIATE;

-- The key that wrote a transaction; NULL for ADMIN_API_KEY, AUTH_DISABLED and the seed's genesis.
ALTER TABLE transactions ADD COLUMN created_by uuid REFERENCES api_keys (id);
