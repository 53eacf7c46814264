-- Signed webhooks (Standard Webhooks). The sequencer, in the transaction that numbers events,
-- adds one delivery per event and active webhook that wants its type; delivery workers in
-- every process claim due deliveries with SKIP LOCKED and a lease, so a killed process's
-- claims are taken over once the lease ends.
CREATE TABLE webhooks (
  id           uuid           PRIMARY KEY,
  url          varchar(2048)  NOT NULL,
  -- NULL: every type.
  event_types  varchar(64)[],
  description  varchar(256),
  -- whsec_<base64>: kept as is, since signing needs it (README, "Webhooks").
  secret       varchar(128)   NOT NULL,
  status       varchar(8)     NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'DISABLED')),
  created_at   timestamptz    NOT NULL DEFAULT now(),
  disabled_at  timestamptz
);

CREATE TABLE webhook_deliveries (
  event_sequence   bigint       NOT NULL,
  webhook_id       uuid         NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event_id         uuid         NOT NULL,
  status           varchar(9)   NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
  -- Attempts started so far: a claim counts one, so an attempt cut short by a crash counts.
  attempt          integer      NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  -- When it may be claimed next: due now, the end of a claim's lease, or the next retry.
  next_attempt_at  timestamptz  NOT NULL DEFAULT now(),
  last_attempt_at  timestamptz,
  response_status  integer,
  error            varchar(512),
  created_at       timestamptz  NOT NULL DEFAULT now(),
  -- By sequence first: pruning deletes the deliveries of the events it deletes.
  PRIMARY KEY (event_sequence, webhook_id)
);
-- A webhook's recent deliveries, and its deliveries deleted with it.
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, event_sequence DESC);
-- What is due, for the claims.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
