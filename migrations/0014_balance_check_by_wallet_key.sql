-- The balance check of 0012, with each entry's wallet kind read by primary key instead of a
-- join. The check runs once per transaction at COMMIT, planned once per connection; on a young
-- database whose tables were never analyzed the planner joined the transaction's two entries to
-- a sequential scan of every wallet, once per transaction (0.3 ms each with 600 wallets, 5 times
-- the database CPU per write of a batch until autovacuum analyzed the tables). A lookup by
-- primary key costs the same whatever the statistics say.
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
             count(*) FILTER (WHERE (SELECT w.owner_kind FROM wallets w WHERE w.id = e.wallet_id) = 'SYSTEM') AS system_sides
        FROM ledger_entries e
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
