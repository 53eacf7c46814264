-- Where each relay (the NATS JetStream publisher) stands in the feed: the last sequence the
-- broker acknowledged. A relay locks its row (SKIP LOCKED) while it publishes, so one process
-- publishes at a time, in sequence order, and a restart resumes after the stored position.
CREATE TABLE event_relays (
  name           varchar(64)  PRIMARY KEY,
  last_sequence  bigint       NOT NULL DEFAULT 0 CHECK (last_sequence >= 0),
  updated_at     timestamptz  NOT NULL DEFAULT now()
);
