-- Ledger v2: reversals and bounded debt. A reversal is a new transaction that mirrors the legs of
-- an earlier one (never an edit of it); the reversals of one transaction never exceed it; and a
-- player's balance may go below zero, down to its asset's max_debt, through a reversal that
-- allows debt. The service decides all of it first; these rules hold for any other writer.

-- A fresh database runs every migration in one transaction, and the seed's transactions still
-- have their deferred balance checks pending, which ALTER TABLE refuses: run them now.
SET CONSTRAINTS ALL IMMEDIATE;

ALTER TABLE transactions DROP CONSTRAINT transactions_type_check;
ALTER TABLE transactions
  ADD CONSTRAINT transactions_type_check
    CHECK (type IN ('GENESIS', 'TOPUP', 'BONUS', 'SPEND', 'TRANSFER', 'TRANSACTION', 'REVERSAL'));

-- The transaction a reversal reverses. The column is new and empty, so the key costs nothing
-- to check on an existing ledger.
ALTER TABLE transactions
  ADD COLUMN reverses uuid REFERENCES transactions (id),
  ADD CONSTRAINT transactions_reversal_names_original CHECK ((type = 'REVERSAL') = (reverses IS NOT NULL));
-- Lookups show each transaction's reversals (reversedBy).
CREATE INDEX transactions_reverses_idx ON transactions (reverses) WHERE reverses IS NOT NULL;

-- A reversal of a one-leg transaction keeps the asset and the amount it reverses (a partial
-- reversal reverses less); one of a multi-leg transaction has neither, as its original.
ALTER TABLE transactions DROP CONSTRAINT transactions_single_asset_unless_multi_leg;
ALTER TABLE transactions
  ADD CONSTRAINT transactions_single_asset_unless_multi_leg
    CHECK ((asset_code IS NULL) = (amount IS NULL)
           AND (type <> 'TRANSACTION' OR asset_code IS NULL)
           AND (type IN ('TRANSACTION', 'REVERSAL') OR asset_code IS NOT NULL));

-- How much of each reversed transaction is reversed: kept by the trigger below on every
-- reversal, bounded by its CHECK. One-leg transactions count in their amount (partial reversals
-- add up); a multi-leg one counts as 1 of 1, since it is only ever reversed whole. Two writers
-- reversing one transaction at once both update this row: the second waits for the first and
-- adds to what it committed, so the bound holds whatever the service does.
CREATE TABLE transaction_reversals (
  transaction_id uuid   PRIMARY KEY REFERENCES transactions (id),
  reversible     bigint NOT NULL CHECK (reversible BETWEEN 1 AND 9007199254740991),
  reversed       bigint NOT NULL,
  CONSTRAINT transaction_reversals_within_original CHECK (reversed BETWEEN 1 AND reversible)
);

CREATE FUNCTION ledger_count_reversal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  original transactions%ROWTYPE;
BEGIN
  SELECT * INTO original FROM transactions WHERE id = NEW.reverses;
  -- Only client writes are reversed: an opening balance, or a reversal, is not.
  IF original.type NOT IN ('TOPUP', 'BONUS', 'SPEND', 'TRANSFER', 'TRANSACTION') THEN
    RAISE EXCEPTION 'transaction % of type % cannot be reversed', original.id, original.type
      USING ERRCODE = 'check_violation';
  END IF;
  IF (original.asset_code IS NULL) <> (NEW.asset_code IS NULL) THEN
    RAISE EXCEPTION 'reversal % does not have the shape of transaction %', NEW.id, original.id
      USING ERRCODE = 'check_violation';
  END IF;
  INSERT INTO transaction_reversals (transaction_id, reversible, reversed)
  VALUES (original.id, coalesce(original.amount, 1), coalesce(NEW.amount, 1))
  ON CONFLICT (transaction_id) DO UPDATE SET reversed = transaction_reversals.reversed + EXCLUDED.reversed;
  RETURN NULL;
END;
$$;

CREATE TRIGGER transactions_count_reversal
  AFTER INSERT ON transactions
  FOR EACH ROW WHEN (NEW.reverses IS NOT NULL) EXECUTE FUNCTION ledger_count_reversal();

-- Checked at COMMIT, as in 0011, with two changes: a transaction of one asset is any with an
-- asset of its own (a one-leg reversal too), and a reversal's legs mirror its original's, leg
-- for leg: from the receiver back to the sender, of the same asset, the same amount (at most
-- it, for a partial reversal of one leg).
CREATE OR REPLACE FUNCTION ledger_check_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n_legs       int;
  n_bad        int;
  n_last       int;
  n_off_asset  int;
  n_system     int;
  n_unmirrored int := 0;
BEGIN
  SELECT count(*),
         count(*) FILTER (WHERE NOT balanced),
         max(leg_index),
         count(*) FILTER (WHERE NEW.asset_code IS NOT NULL AND (leg_asset <> NEW.asset_code OR leg_amount <> NEW.amount)),
         sum(system_sides)
    INTO n_legs, n_bad, n_last, n_off_asset, n_system
    FROM (
      SELECT e.leg_index,
             count(*) FILTER (WHERE e.entry_type = 'DEBIT') = 1
               AND count(*) FILTER (WHERE e.entry_type = 'CREDIT') = 1
               AND count(DISTINCT e.asset_code) = 1
               AND count(DISTINCT e.amount) = 1
               AND count(DISTINCT e.wallet_id) = 2 AS balanced,
             min(e.asset_code) AS leg_asset,
             min(e.amount) AS leg_amount,
             count(*) FILTER (WHERE w.owner_kind = 'SYSTEM') AS system_sides
        FROM ledger_entries e
        JOIN wallets w ON w.id = e.wallet_id
       WHERE e.transaction_id = NEW.id
       GROUP BY e.leg_index
    ) leg;
  IF NEW.type = 'REVERSAL' THEN
    WITH legs AS (
      SELECT transaction_id, leg_index,
             max(wallet_id) FILTER (WHERE entry_type = 'DEBIT') AS debit_wallet,
             max(wallet_id) FILTER (WHERE entry_type = 'CREDIT') AS credit_wallet,
             min(asset_code) AS asset_code,
             min(amount) AS amount
        FROM ledger_entries
       WHERE transaction_id IN (NEW.id, NEW.reverses)
       GROUP BY transaction_id, leg_index
    )
    SELECT count(*) INTO n_unmirrored
      FROM (SELECT * FROM legs WHERE transaction_id = NEW.id) r
      FULL JOIN (SELECT * FROM legs WHERE transaction_id = NEW.reverses) o USING (leg_index)
     WHERE r.transaction_id IS NULL OR o.transaction_id IS NULL
        OR r.debit_wallet <> o.credit_wallet OR r.credit_wallet <> o.debit_wallet
        OR r.asset_code <> o.asset_code OR r.amount > o.amount
        OR (NEW.asset_code IS NULL AND r.amount <> o.amount);
  END IF;
  IF n_legs = 0 OR n_bad > 0 OR n_last <> n_legs - 1 OR n_off_asset > 0
     OR (NEW.asset_code IS NOT NULL AND n_legs <> 1)
     OR (NEW.type = 'TRANSFER' AND n_system > 0)
     OR n_unmirrored > 0 THEN
    RAISE EXCEPTION 'transaction % is unbalanced: % leg(s), % malformed, last leg %, % off its asset or amount, % system side(s), % unmirrored',
      NEW.id, n_legs, n_bad, n_last, n_off_asset, n_system, n_unmirrored
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$;

-- The floor of a player's wallet: minus its asset's max_debt (0 unless the asset allows debt).
-- The wallet keeps a copy of max_debt so that a plain CHECK can read it; the composite key to
-- the asset keeps the copy true (ON UPDATE CASCADE carries a change of max_debt to every
-- wallet, and refuses a lower max_debt while a player owes more than it), and the trigger
-- fills it in for a new wallet, whoever opens it.
ALTER TABLE assets ADD CONSTRAINT assets_code_max_debt_key UNIQUE (code, max_debt);
ALTER TABLE wallets ADD COLUMN max_debt bigint NOT NULL DEFAULT 0;
UPDATE wallets w SET max_debt = a.max_debt FROM assets a WHERE a.code = w.asset_code AND a.max_debt <> 0;
ALTER TABLE wallets
  ADD CONSTRAINT wallets_asset_max_debt_fkey
    FOREIGN KEY (asset_code, max_debt) REFERENCES assets (code, max_debt) ON UPDATE CASCADE;

CREATE FUNCTION wallets_copy_max_debt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT max_debt INTO NEW.max_debt FROM assets WHERE code = NEW.asset_code;
  RETURN NEW;
END;
$$;

CREATE TRIGGER wallets_copy_max_debt
  BEFORE INSERT ON wallets
  FOR EACH ROW EXECUTE FUNCTION wallets_copy_max_debt();

ALTER TABLE wallets DROP CONSTRAINT wallets_user_balance_not_negative;
ALTER TABLE wallets
  ADD CONSTRAINT wallets_user_balance_within_floor CHECK (owner_kind = 'SYSTEM' OR balance >= -max_debt);

-- The refusals of a reversal are final for its request, and so stored under its key.
ALTER TABLE idempotency_records DROP CONSTRAINT idempotency_records_outcome_check;
ALTER TABLE idempotency_records
  ADD CONSTRAINT idempotency_records_outcome_check
    CHECK (outcome IN ('APPLIED', 'INSUFFICIENT_FUNDS', 'BALANCE_LIMIT', 'DEBT_LIMIT', 'ALREADY_REVERSED'));
