-- Ledger v2: transfers between players and multi-leg transactions. A transaction is now one or
-- more legs, each a DEBIT and a CREDIT of one asset and amount between two different wallets,
-- so it balances per asset by construction. v1 rows are one leg (leg_index 0) and keep their
-- asset and amount on the transaction; so does a TRANSFER. A TRANSACTION may move several
-- assets and amounts, so it has neither, and its legs carry them.

-- A fresh database runs every migration in one transaction, and the seed's transactions still
-- have their deferred balance checks pending, which ALTER TABLE refuses: run them now.
SET CONSTRAINTS ALL IMMEDIATE;

ALTER TABLE transactions DROP CONSTRAINT transactions_type_check;
ALTER TABLE transactions
  ADD CONSTRAINT transactions_type_check
    CHECK (type IN ('GENESIS', 'TOPUP', 'BONUS', 'SPEND', 'TRANSFER', 'TRANSACTION'));

-- An entry no longer copies its transaction's asset and amount through a composite key (a
-- multi-leg transaction has several); it names its transaction, and the deferred trigger
-- below checks the legs against the transaction instead.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_transaction_id_asset_code_amount_fkey;
ALTER TABLE ledger_entries
  ADD CONSTRAINT ledger_entries_transaction_id_fkey FOREIGN KEY (transaction_id) REFERENCES transactions (id);
ALTER TABLE transactions DROP CONSTRAINT transactions_id_asset_code_amount_key;

ALTER TABLE transactions ALTER COLUMN asset_code DROP NOT NULL, ALTER COLUMN amount DROP NOT NULL;
ALTER TABLE transactions
  ADD CONSTRAINT transactions_single_asset_unless_multi_leg
    CHECK ((type = 'TRANSACTION') = (asset_code IS NULL) AND (asset_code IS NULL) = (amount IS NULL));

-- The leg an entry belongs to, from 0 in the order the request gave them. The constant default
-- makes every existing entry leg 0 without rewriting the table. 100 legs at most, as the API.
ALTER TABLE ledger_entries
  ADD COLUMN leg_index smallint NOT NULL DEFAULT 0 CHECK (leg_index BETWEEN 0 AND 99);

-- One DEBIT and one CREDIT per leg at most (the trigger asks for at least); it replaces the
-- one-DEBIT-one-CREDIT-per-transaction key, and serves the lookups of a transaction's entries.
ALTER TABLE ledger_entries
  ADD CONSTRAINT ledger_entries_transaction_leg_entry_type_key UNIQUE (transaction_id, leg_index, entry_type);
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_transaction_id_entry_type_key;

-- Checked at COMMIT, when every entry exists. Every leg is one DEBIT and one CREDIT of one asset
-- and amount between two different wallets, the legs are numbered 0..n-1, and a transaction of
-- one asset (every type but TRANSACTION) is one leg of its own asset and amount. A transfer
-- moves money between players only: the treasury issues and takes back through v1 writes and
-- multi-leg transactions.
CREATE OR REPLACE FUNCTION ledger_check_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n_legs       int;
  n_bad        int;
  n_last       int;
  n_off_asset  int;
  n_system     int;
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
  IF n_legs = 0 OR n_bad > 0 OR n_last <> n_legs - 1 OR n_off_asset > 0
     OR (NEW.type <> 'TRANSACTION' AND n_legs <> 1)
     OR (NEW.type = 'TRANSFER' AND n_system > 0) THEN
    RAISE EXCEPTION 'transaction % is unbalanced: % leg(s), % malformed, last leg %, % off its asset or amount, % system side(s)',
      NEW.id, n_legs, n_bad, n_last, n_off_asset, n_system
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$;
