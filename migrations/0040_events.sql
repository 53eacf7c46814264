-- Events out of the ledger: a transactional outbox. The batch statement that writes a ledger
-- transaction writes its event row too, so no transaction commits without its event and no
-- event exists without its transaction.
--
-- An event row keeps only what identifies it (id, type, the transaction it is about, time);
-- its `data` is the transaction as GET /api/transactions/{id} shows it at posting time, read
-- from the ledger when the event is read. Transactions and their entries never change (the
-- ledger is append-only), so the rendering is the same every time; the one field that does
-- change, reversedBy, is always empty at posting time and is rendered so.
CREATE TABLE events (
  id              uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Insertion order: the order in which the sequencer numbers the committed events it finds.
  -- Two batches that touch one wallet insert in their commit order (the second waited on the
  -- first's wallet locks), so the feed keeps that order.
  position        bigint       GENERATED ALWAYS AS IDENTITY,
  -- The position in the feed: NULL until the sequencer numbers the event after its commit.
  -- A bigserial would not do: values are taken in insertion order but commit in another, so a
  -- reader could see 7 and later find 6.
  sequence        bigint,
  type            varchar(64)  NOT NULL CHECK (type IN ('transaction.posted')),
  transaction_id  uuid         NOT NULL,
  created_at      timestamptz  NOT NULL DEFAULT now(),
  CHECK (sequence IS NULL OR sequence > 0)
);

-- Exactly one event per ledger transaction, checked by the database as well as by the batch.
CREATE UNIQUE INDEX events_transaction_id ON events (transaction_id);
-- The feed's order; partial, so a batch's insert (sequence still NULL) does not touch it.
CREATE UNIQUE INDEX events_sequence ON events (sequence) WHERE sequence IS NOT NULL;
-- What the sequencer has left to number, in insertion order; small at any time.
CREATE INDEX events_unnumbered ON events (position) WHERE sequence IS NULL;

-- The one sequencer's row: every process's sequencer locks it (SKIP LOCKED) to number, so one
-- numbers at a time across processes, and it keeps the last number given, so numbering goes on
-- from there even after retention pruned every event.
CREATE TABLE event_sequencer (
  id             boolean  PRIMARY KEY DEFAULT true CHECK (id),
  last_sequence  bigint   NOT NULL DEFAULT 0 CHECK (last_sequence >= 0)
);
INSERT INTO event_sequencer DEFAULT VALUES;
