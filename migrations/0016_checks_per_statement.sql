-- The cost of a posting must not grow with the ledger, nor hang on the planner's statistics.
-- Every per-row check of a write is either a probe by key whatever the statistics say, or one
-- set-based check per statement over what the statement wrote (its transition tables).
--
-- Before: each entry's two foreign keys (to its transaction, to its wallet) and each record's
-- (to its transaction) ran one query per row, planned once per connection and kept: a plan made
-- while `transactions` was small scanned it, and went on scanning it as it grew (about 300 µs
-- per entry at a few thousand transactions on a server that never analyzes), until the
-- connection was replaced. The balance check ran once per transaction at COMMIT, two queries
-- each. Now one trigger per statement checks all of a statement's entries, and its plans are
-- pinned to nested loops over primary keys (enable_seqscan, hashjoin and mergejoin off for the
-- function only; and JIT, whose threshold a disabled node's cost passes, and whose compiling
-- costs seconds), so each check costs a few probes per posting at any size.
--
-- What the database guarantees is unchanged, with one rule made explicit: a transaction and
-- its entries are written by ONE statement (the service's batch statement does; so does any
-- writer that uses a CTE), and no entry is ever added to a transaction afterwards.

-- A fresh database runs every migration in one transaction, and the seed's transactions still
-- have their deferred balance checks pending, which ALTER TABLE refuses: run them now.
SET CONSTRAINTS ALL IMMEDIATE;

DROP TRIGGER transactions_balanced ON transactions;
DROP TRIGGER ledger_entries_system_sides ON ledger_entries;
DROP FUNCTION ledger_check_transaction_balanced();
DROP FUNCTION ledger_check_system_sides();
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_transaction_id_fkey;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_wallet_id_asset_code_fkey;
ALTER TABLE idempotency_records DROP CONSTRAINT idempotency_records_transaction_id_fkey;

-- Every entry a statement inserts, checked in one pass:
--   1. it names an existing transaction, and a wallet that holds its asset (the two foreign
--      keys' rules, 23503 as they were);
--   2. each transaction it touches has all its entries in this statement (none added later),
--      legs numbered 0..n-1, each exactly one DEBIT and one CREDIT of one asset and amount
--      between two different wallets; a transaction of one asset is one leg of its own asset
--      and amount;
--   3. every system account is a side only of its own operations (0015's table);
--   4. a reversal mirrors its original's legs: from the receiver back to the sender, the same
--      asset, the same amount (at most it for a partial reversal of one leg).
CREATE FUNCTION ledger_check_new_entries() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  bad          record;
  reversal     record;
  n_unmirrored int;
BEGIN
  SELECT e.transaction_id, e.wallet_id, e.asset_code, t.id IS NULL AS no_transaction INTO bad
    FROM new_entries e
    LEFT JOIN transactions t ON t.id = e.transaction_id
    LEFT JOIN wallets w ON w.id = e.wallet_id
   WHERE t.id IS NULL OR w.id IS NULL OR w.asset_code <> e.asset_code
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'entry of transaction % names %', bad.transaction_id,
      CASE WHEN bad.no_transaction THEN 'no existing transaction' ELSE format('wallet %s, which holds no %s', bad.wallet_id, bad.asset_code) END
      USING ERRCODE = 'foreign_key_violation';
  END IF;

  WITH legs AS (
    SELECT e.transaction_id, e.leg_index,
           count(*) AS entries,
           count(*) FILTER (WHERE e.entry_type = 'DEBIT') = 1
             AND count(*) FILTER (WHERE e.entry_type = 'CREDIT') = 1
             AND count(DISTINCT e.asset_code) = 1
             AND count(DISTINCT e.amount) = 1
             AND count(DISTINCT e.wallet_id) = 2 AS balanced,
           min(e.asset_code) AS asset_code,
           min(e.amount) AS amount
      FROM new_entries e
     GROUP BY e.transaction_id, e.leg_index
  ), transactions_written AS (
    SELECT l.transaction_id, count(*) AS n_legs, sum(l.entries) AS entries, bool_and(l.balanced) AS balanced,
           max(l.leg_index) AS last_leg, min(l.asset_code) AS asset_code, max(l.asset_code) AS max_asset_code,
           min(l.amount) AS amount, max(l.amount) AS max_amount
      FROM legs l
     GROUP BY l.transaction_id
  )
  SELECT x.*, t.type INTO bad
    FROM transactions_written x
    JOIN transactions t ON t.id = x.transaction_id
   WHERE NOT x.balanced
      OR x.last_leg <> x.n_legs - 1
      OR (t.asset_code IS NOT NULL AND (x.n_legs <> 1 OR x.asset_code <> t.asset_code OR x.amount <> t.amount))
      OR (SELECT count(*) FROM ledger_entries a WHERE a.transaction_id = x.transaction_id) <> x.entries
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'transaction % (%) is unbalanced: % leg(s), balanced %, last leg %, or entries outside this statement',
      bad.transaction_id, bad.type, bad.n_legs, bad.balanced, bad.last_leg
      USING ERRCODE = 'check_violation';
  END IF;

  -- A player's wallet says so itself (owner_kind, tied to the user by a composite key): only a
  -- system wallet's owner is read, by key, for its role.
  SELECT e.transaction_id, t.type, e.entry_type, w.user_id, role.role INTO bad
    FROM new_entries e
    JOIN transactions t ON t.id = e.transaction_id
    JOIN wallets w ON w.id = e.wallet_id
    CROSS JOIN LATERAL (
      SELECT CASE WHEN w.owner_kind = 'USER' THEN 'PLAYER' ELSE (SELECT u.role FROM users u WHERE u.id = w.user_id) END AS role
    ) role
   WHERE role.role <> 'PLAYER' AND NOT ledger_system_side_allowed(role.role, t.type, e.entry_type)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'system account % (%) cannot be the % side of a % (transaction %)',
      bad.user_id, bad.role, bad.entry_type, bad.type, bad.transaction_id
      USING ERRCODE = 'check_violation';
  END IF;

  -- Reversals are rare and never in bulk: each is compared with its original on its own.
  FOR reversal IN
    SELECT DISTINCT t.id, t.reverses, t.asset_code
      FROM new_entries e JOIN transactions t ON t.id = e.transaction_id
     WHERE t.type = 'REVERSAL'
  LOOP
    WITH legs AS (
      SELECT transaction_id, leg_index,
             max(wallet_id) FILTER (WHERE entry_type = 'DEBIT') AS debit_wallet,
             max(wallet_id) FILTER (WHERE entry_type = 'CREDIT') AS credit_wallet,
             min(asset_code) AS asset_code,
             min(amount) AS amount
        FROM ledger_entries
       WHERE transaction_id IN (reversal.id, reversal.reverses)
       GROUP BY transaction_id, leg_index
    )
    SELECT count(*) INTO n_unmirrored
      FROM (SELECT * FROM legs WHERE transaction_id = reversal.id) r
      FULL JOIN (SELECT * FROM legs WHERE transaction_id = reversal.reverses) o USING (leg_index)
     WHERE r.transaction_id IS NULL OR o.transaction_id IS NULL
        OR r.debit_wallet <> o.credit_wallet OR r.credit_wallet <> o.debit_wallet
        OR r.asset_code <> o.asset_code OR r.amount > o.amount
        OR (reversal.asset_code IS NULL AND r.amount <> o.amount);
    IF n_unmirrored > 0 THEN
      RAISE EXCEPTION 'reversal % does not mirror transaction %: % leg(s) off', reversal.id, reversal.reverses, n_unmirrored
        USING ERRCODE = 'check_violation';
    END IF;
  END LOOP;
  RETURN NULL;
END;
$$;

CREATE TRIGGER ledger_entries_checked
  AFTER INSERT ON ledger_entries
  REFERENCING NEW TABLE AS new_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_new_entries();

-- A transaction leaves its statement with its entries: entries are checked above, and a
-- transaction without any is refused here, one probe of the entries' key per transaction.
CREATE FUNCTION ledger_check_new_transactions() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  bare uuid;
BEGIN
  SELECT t.id INTO bare FROM new_transactions t
   WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = t.id)
   LIMIT 1;
  IF bare IS NOT NULL THEN
    RAISE EXCEPTION 'transaction % has no entries: a transaction and its entries are written by one statement', bare
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER transactions_have_entries
  AFTER INSERT ON transactions
  REFERENCING NEW TABLE AS new_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_new_transactions();

-- The entries' foreign key to wallets also kept a wallet from being deleted or moved to another
-- id or asset under its entries; a wallet is never deleted, and keeps both for life. (Not
-- UPDATE OF: a change of an asset's max_debt cascades to its wallets with asset_code in the
-- SET list, unchanged.)
CREATE FUNCTION wallets_keep_identity() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.id <> OLD.id OR NEW.asset_code <> OLD.asset_code OR NEW.user_id <> OLD.user_id THEN
    RAISE EXCEPTION 'wallet % keeps its id, owner and asset, and is never deleted', OLD.id USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END;
$$;

CREATE TRIGGER wallets_keep_identity
  BEFORE DELETE OR UPDATE OF id, asset_code, user_id ON wallets
  FOR EACH ROW EXECUTE FUNCTION wallets_keep_identity();

-- An idempotency record names an existing transaction, checked once per statement that writes
-- records (a batch's claims, and its outcomes), by key.
CREATE FUNCTION idempotency_records_check_transaction() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  orphan varchar;
BEGIN
  SELECT r.key INTO orphan FROM new_records r
   WHERE r.transaction_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM transactions t WHERE t.id = r.transaction_id)
   LIMIT 1;
  IF orphan IS NOT NULL THEN
    RAISE EXCEPTION 'idempotency record % names no existing transaction', orphan USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER idempotency_records_inserted_transaction
  AFTER INSERT ON idempotency_records REFERENCING NEW TABLE AS new_records
  FOR EACH STATEMENT EXECUTE FUNCTION idempotency_records_check_transaction();
CREATE TRIGGER idempotency_records_updated_transaction
  AFTER UPDATE ON idempotency_records REFERENCING NEW TABLE AS new_records
  FOR EACH STATEMENT EXECUTE FUNCTION idempotency_records_check_transaction();
