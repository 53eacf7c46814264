-- The seed: three assets, the treasury, and two players whose opening balances are genesis
-- transactions from the treasury, so the ledger is zero-sum from its first row.

INSERT INTO assets (code, name) VALUES
  ('GOLD_COINS', 'Gold Coins'),
  ('DIAMONDS', 'Diamonds'),
  ('LOYALTY_POINTS', 'Loyalty Points');

INSERT INTO users (id, username, kind) VALUES
  (1, 'treasury', 'SYSTEM'),
  (2, 'shivansh', 'USER'),
  (3, 'lokendra', 'USER');
SELECT setval(pg_get_serial_sequence('users', 'id'), 3);

INSERT INTO wallets (user_id, owner_kind, asset_code)
SELECT u.id, u.kind, a.code
  FROM users u CROSS JOIN assets a
 ORDER BY u.id, a.code;

CREATE TEMPORARY TABLE opening_balances (user_id bigint, asset_code varchar(32), amount bigint, tx uuid)
  ON COMMIT DROP;
INSERT INTO opening_balances (user_id, asset_code, amount, tx) VALUES
  (2, 'GOLD_COINS', 1000, gen_random_uuid()),
  (2, 'DIAMONDS', 50, gen_random_uuid()),
  (2, 'LOYALTY_POINTS', 200, gen_random_uuid()),
  (3, 'GOLD_COINS', 500, gen_random_uuid()),
  (3, 'DIAMONDS', 20, gen_random_uuid()),
  (3, 'LOYALTY_POINTS', 100, gen_random_uuid());

INSERT INTO transactions (id, type, asset_code, amount, description)
SELECT tx, 'GENESIS', asset_code, amount, 'Opening balance'
  FROM opening_balances
 ORDER BY user_id, asset_code;

UPDATE wallets w
   SET balance = w.balance + o.amount
  FROM opening_balances o
 WHERE w.user_id = o.user_id AND w.asset_code = o.asset_code;

UPDATE wallets w
   SET balance = -totals.amount
  FROM (SELECT asset_code, sum(amount) AS amount FROM opening_balances GROUP BY asset_code) totals
 WHERE w.user_id = 1 AND w.asset_code = totals.asset_code;

-- The treasury's DEBIT entries carry its running balance, one genesis at a time.
INSERT INTO ledger_entries (transaction_id, wallet_id, asset_code, entry_type, amount, balance_after)
SELECT o.tx, tw.id, o.asset_code, 'DEBIT', o.amount,
       -sum(o.amount) OVER (PARTITION BY o.asset_code ORDER BY o.user_id)
  FROM opening_balances o
  JOIN wallets tw ON tw.user_id = 1 AND tw.asset_code = o.asset_code
UNION ALL
SELECT o.tx, uw.id, o.asset_code, 'CREDIT', o.amount, o.amount
  FROM opening_balances o
  JOIN wallets uw ON uw.user_id = o.user_id AND uw.asset_code = o.asset_code;
