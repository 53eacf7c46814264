-- Balances at a past time read each wallet's last entry created then or before: one index
-- probe per wallet instead of walking its entries back from the newest.
CREATE INDEX ledger_entries_wallet_created_at_idx ON ledger_entries (wallet_id, created_at DESC, id DESC);
