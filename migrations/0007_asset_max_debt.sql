-- Each asset says how far below zero a player's balance of it may go, and only through a
-- reversal that allows debt (ledger v2). 0, the default, keeps today's floor for every asset.
ALTER TABLE assets
  ADD COLUMN max_debt bigint NOT NULL DEFAULT 0 CHECK (max_debt BETWEEN 0 AND 9007199254740991);
