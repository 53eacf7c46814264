-- System accounts are untouchable except through their own operations. Until now the database
-- refused a system side only in a TRANSFER, so a multi-leg transaction could pay the escrow's
-- money to a player (money no hold would ever release) or a player could pay into the escrow.
--
-- Every user now has a role: PLAYER (every USER), TREASURY (the issuer of each asset), ESCROW
-- (what holds keep) or SYSTEM (any other system account: no operation may touch it until a
-- migration gives it a role and rules of its own). The rules per role, also written as a pure
-- function in src/domain/AccountRules.ts:
--   TREASURY: the DEBIT of a TOPUP, a BONUS or a GENESIS, the CREDIT of a SPEND or a capture to
--             the treasury, either side of a multi-leg leg, and the mirror of those (a REVERSAL);
--   ESCROW:   the CREDIT of a HOLD, the DEBIT of a CAPTURE or a RELEASE, nothing else;
--   SYSTEM:   nothing.

-- A fresh database runs every migration in one transaction, and the seed's transactions still
-- have their deferred balance checks pending, which ALTER TABLE refuses: run them now.
SET CONSTRAINTS ALL IMMEDIATE;

ALTER TABLE users ADD COLUMN role varchar(8) NOT NULL DEFAULT 'PLAYER';
UPDATE users SET role = CASE WHEN id = 1 THEN 'TREASURY' WHEN username = '$escrow' THEN 'ESCROW' ELSE 'SYSTEM' END
 WHERE kind = 'SYSTEM';
ALTER TABLE users
  ADD CONSTRAINT users_role_check CHECK (role IN ('PLAYER', 'TREASURY', 'ESCROW', 'SYSTEM')),
  -- A player is a USER and every USER a player; a system account added without a role names
  -- itself SYSTEM and is refused by every rule.
  ADD CONSTRAINT users_role_matches_kind CHECK ((kind = 'USER') = (role = 'PLAYER'));
-- One treasury and one escrow.
CREATE UNIQUE INDEX users_one_per_system_role ON users (role) WHERE role IN ('TREASURY', 'ESCROW');

-- The sides each role may take, by transaction type. Immutable: the rules change only through
-- a migration, which replaces this function.
CREATE FUNCTION ledger_system_side_allowed(role varchar, type varchar, entry_type varchar) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE role
    WHEN 'PLAYER' THEN true
    WHEN 'TREASURY' THEN
      (entry_type = 'DEBIT' AND type IN ('GENESIS', 'TOPUP', 'BONUS'))
      OR (entry_type = 'CREDIT' AND type IN ('SPEND', 'CAPTURE'))
      OR type IN ('TRANSACTION', 'REVERSAL')
    WHEN 'ESCROW' THEN
      (entry_type = 'CREDIT' AND type = 'HOLD') OR (entry_type = 'DEBIT' AND type IN ('CAPTURE', 'RELEASE'))
    ELSE false
  END
$$;

-- Every existing entry must already keep the rules; a ledger that broke them stops the
-- migration here (an operator reverses the offending transactions first).
DO $$
DECLARE
  offending uuid;
BEGIN
  SELECT e.transaction_id INTO offending
    FROM ledger_entries e
    JOIN transactions t ON t.id = e.transaction_id
    JOIN wallets w ON w.id = e.wallet_id
    JOIN users u ON u.id = w.user_id
   WHERE NOT ledger_system_side_allowed(u.role, t.type, e.entry_type)
   LIMIT 1;
  IF offending IS NOT NULL THEN
    RAISE EXCEPTION 'transaction % moves a system account outside its rules', offending
      USING ERRCODE = 'check_violation';
  END IF;
END;
$$;

-- Checked once per statement over all the entries it inserted (a batch of a thousand postings
-- is one pass), each entry's transaction, wallet and owner read by primary key. A REVERSAL of a
-- legitimate transaction is legitimate: the balance check makes its legs mirror the original's.
-- The planner's choices are fixed for this function: without statistics it would plan a join
-- to a whole table while the table is small and keep that plan as the table grows, so only
-- nested loops over the primary keys are left to it, whatever the table sizes. (JIT is off too:
-- a disabled plan node's cost passes the JIT threshold, and compiling costs seconds.)
CREATE FUNCTION ledger_check_system_sides() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  offending record;
BEGIN
  SELECT e.transaction_id, t.type, e.entry_type, u.id AS user_id, u.role INTO offending
    FROM new_entries e
    JOIN transactions t ON t.id = e.transaction_id
    JOIN wallets w ON w.id = e.wallet_id
    JOIN users u ON u.id = w.user_id
   WHERE u.role <> 'PLAYER' AND NOT ledger_system_side_allowed(u.role, t.type, e.entry_type)
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'system account % (%) cannot be the % side of a % (transaction %)',
      offending.user_id, offending.role, offending.entry_type, offending.type, offending.transaction_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER ledger_entries_system_sides
  AFTER INSERT ON ledger_entries
  REFERENCING NEW TABLE AS new_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_check_system_sides();

-- The escrow holds exactly what the holds in force keep, per asset, never less, never more,
-- and so never below zero. The holds in force are summed into escrow_holds by the holds'
-- statement triggers (one row per asset, updated once per statement: a batch's holds and
-- settlements add one update), and a deferred check at COMMIT compares that sum with the
-- escrow's wallet. Both checks fire once per changed row of escrow_holds or of a system wallet,
-- so once per asset per batch, not once per posting, and read their rows by primary key.
CREATE TABLE escrow_holds (
  asset_code varchar(32) PRIMARY KEY REFERENCES assets (code),
  held       bigint      NOT NULL CHECK (held BETWEEN 0 AND 9007199254740991)
);
INSERT INTO escrow_holds (asset_code, held)
SELECT a.code, coalesce((SELECT sum(h.amount) FROM holds h WHERE h.asset_code = a.code AND h.status = 'HELD'), 0)
  FROM assets a;

CREATE FUNCTION escrow_holds_count_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO escrow_holds AS x (asset_code, held)
  SELECT asset_code, sum(amount) FROM new_holds WHERE status = 'HELD' GROUP BY asset_code
  ON CONFLICT (asset_code) DO UPDATE SET held = x.held + EXCLUDED.held;
  RETURN NULL;
END;
$$;

CREATE FUNCTION escrow_holds_count_settled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- holds_settle_once keeps amount and asset, and lets a hold leave HELD only once.
  UPDATE escrow_holds x SET held = x.held - s.settled
    FROM (SELECT o.asset_code, sum(o.amount) AS settled
            FROM old_holds o JOIN new_holds n ON n.id = o.id
           WHERE o.status = 'HELD' AND n.status <> 'HELD'
           GROUP BY o.asset_code) s
   WHERE x.asset_code = s.asset_code;
  RETURN NULL;
END;
$$;

CREATE TRIGGER holds_count_new
  AFTER INSERT ON holds REFERENCING NEW TABLE AS new_holds
  FOR EACH STATEMENT EXECUTE FUNCTION escrow_holds_count_new();
CREATE TRIGGER holds_count_settled
  AFTER UPDATE ON holds REFERENCING OLD TABLE AS old_holds NEW TABLE AS new_holds
  FOR EACH STATEMENT EXECUTE FUNCTION escrow_holds_count_settled();

-- Fixed plans, as above: users and wallets are read by key whatever their statistics say.
CREATE FUNCTION escrow_check_held() RETURNS trigger LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
DECLARE
  escrow_balance bigint;
  in_force       bigint;
BEGIN
  -- A system wallet that changed may be the treasury's: then there is nothing to compare. (The
  -- test is nested: escrow_holds' rows have no user_id to read.)
  IF TG_TABLE_NAME = 'wallets' THEN
    IF NOT EXISTS (SELECT 1 FROM users u WHERE u.id = NEW.user_id AND u.role = 'ESCROW') THEN
      RETURN NULL;
    END IF;
  END IF;
  SELECT w.balance INTO escrow_balance
    FROM users u JOIN wallets w ON w.user_id = u.id AND w.asset_code = NEW.asset_code
   WHERE u.role = 'ESCROW';
  SELECT held INTO in_force FROM escrow_holds WHERE asset_code = NEW.asset_code;
  IF coalesce(escrow_balance, 0) <> coalesce(in_force, 0) THEN
    RAISE EXCEPTION 'the escrow holds % % but the holds in force keep %', coalesce(escrow_balance, 0), NEW.asset_code,
      coalesce(in_force, 0)
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER escrow_holds_match_wallet
  AFTER INSERT OR UPDATE ON escrow_holds
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION escrow_check_held();
CREATE CONSTRAINT TRIGGER wallets_escrow_matches_holds
  AFTER INSERT OR UPDATE ON wallets
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (NEW.owner_kind = 'SYSTEM') EXECUTE FUNCTION escrow_check_held();
