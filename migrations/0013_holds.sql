-- Ledger v2: holds. A hold moves a player's amount into escrow at once (a HOLD transaction),
-- so it leaves the spendable balance while staying in the ledger; later the hold is captured
-- (a CAPTURE: the captured part to its receiver, the rest back to the player), voided or expired
-- (a RELEASE: all of it back). The escrow is one SYSTEM user with a wallet per asset, so every
-- asset still sums to zero and every wallet still equals its entries; its balance of an asset
-- is what is held of it.

-- A fresh database runs every migration in one transaction, and the seed's transactions still
-- have their deferred balance checks pending, which ALTER TABLE refuses: run them now.
SET CONSTRAINTS ALL IMMEDIATE;

ALTER TABLE transactions DROP CONSTRAINT transactions_type_check;
ALTER TABLE transactions
  ADD CONSTRAINT transactions_type_check
    CHECK (type IN ('GENESIS', 'TOPUP', 'BONUS', 'SPEND', 'TRANSFER', 'TRANSACTION', 'REVERSAL', 'HOLD', 'CAPTURE', 'RELEASE'));

-- A capture is one or two legs of different amounts (to the receiver, the rest to the player),
-- so, like a multi-leg transaction, it has no amount of its own; its legs carry them.
ALTER TABLE transactions DROP CONSTRAINT transactions_single_asset_unless_multi_leg;
ALTER TABLE transactions
  ADD CONSTRAINT transactions_single_asset_unless_multi_leg
    CHECK ((asset_code IS NULL) = (amount IS NULL)
           AND (type NOT IN ('TRANSACTION', 'CAPTURE') OR asset_code IS NULL)
           AND (type IN ('TRANSACTION', 'REVERSAL', 'CAPTURE') OR asset_code IS NOT NULL));

-- The escrow, under a name no player can have: players' names are [A-Za-z0-9_.-]{1,64} (the API
-- and this CHECK), and a system account's may instead be '$' and lower-case letters, so a player
-- who registered "escrow" before does not stop this migration or pose as the escrow.
ALTER TABLE users DROP CONSTRAINT users_username_check;
ALTER TABLE users ADD CONSTRAINT users_username_check
  CHECK (username ~ '^[A-Za-z0-9_.-]{1,64}$' OR (kind = 'SYSTEM' AND username ~ '^\$[a-z]{1,63}$'));
INSERT INTO users (username, kind) VALUES ('$escrow', 'SYSTEM');

CREATE TABLE holds (
  id                        uuid         PRIMARY KEY,
  user_id                   bigint       NOT NULL REFERENCES users (id),
  asset_code                varchar(32)  NOT NULL REFERENCES assets (code),
  amount                    bigint       NOT NULL CHECK (amount BETWEEN 1 AND 9007199254740991),
  captured_amount           bigint       NOT NULL DEFAULT 0,
  status                    varchar(8)   NOT NULL CHECK (status IN ('HELD', 'CAPTURED', 'VOIDED', 'EXPIRED')),
  expires_at                timestamptz  NOT NULL,
  created_at                timestamptz  NOT NULL,
  hold_transaction_id       uuid         NOT NULL UNIQUE REFERENCES transactions (id),
  settlement_transaction_id uuid         UNIQUE REFERENCES transactions (id),
  settled_at                timestamptz,
  CHECK (expires_at > created_at),
  -- A settled hold names the transaction that settled it, and only a capture captured anything.
  CHECK ((status = 'HELD') = (settlement_transaction_id IS NULL) AND (status = 'HELD') = (settled_at IS NULL)),
  CHECK (captured_amount BETWEEN 0 AND amount AND (status = 'CAPTURED' OR captured_amount = 0)),
  CHECK (status <> 'CAPTURED' OR captured_amount > 0)
);
-- The expiry worker finds what is due among the active holds; balances sum what a player has
-- held, now or at a past time.
CREATE INDEX holds_due_idx ON holds (expires_at) WHERE status = 'HELD';
CREATE INDEX holds_user_idx ON holds (user_id, asset_code);

-- A hold is settled once: from HELD to one final status, and nothing else about it changes.
CREATE FUNCTION holds_settle_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'HELD'
     OR (NEW.id, NEW.user_id, NEW.asset_code, NEW.amount, NEW.expires_at, NEW.created_at, NEW.hold_transaction_id)
        IS DISTINCT FROM (OLD.id, OLD.user_id, OLD.asset_code, OLD.amount, OLD.expires_at, OLD.created_at, OLD.hold_transaction_id) THEN
    RAISE EXCEPTION 'hold % is % and can only be settled once', OLD.id, OLD.status USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER holds_settle_once BEFORE UPDATE ON holds FOR EACH ROW EXECUTE FUNCTION holds_settle_once();
CREATE TRIGGER holds_append_only BEFORE DELETE ON holds FOR EACH ROW EXECUTE FUNCTION ledger_forbid_change();

-- A capture or void of a hold no longer active is final for its request, and stored under its key.
ALTER TABLE idempotency_records DROP CONSTRAINT idempotency_records_outcome_check;
ALTER TABLE idempotency_records
  ADD CONSTRAINT idempotency_records_outcome_check
    CHECK (outcome IN ('APPLIED', 'INSUFFICIENT_FUNDS', 'BALANCE_LIMIT', 'DEBT_LIMIT', 'ALREADY_REVERSED', 'HOLD_NOT_ACTIVE'));
