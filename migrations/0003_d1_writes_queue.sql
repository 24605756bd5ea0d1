-- The D1 writes queue (src/ledger/shipment.ts): per source object, the number of its last write
-- applied, and the messages the consumer failed on every retry.

CREATE TABLE IF NOT EXISTS outbox_progress (
  source TEXT PRIMARY KEY,
  through INTEGER NOT NULL,
  prev INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);

-- A batch may only continue a source's progress from where it is: otherwise the whole batch
-- rolls back (two consumers applying the same message at once, or a stale plan).
CREATE TRIGGER IF NOT EXISTS outbox_progress_continues
BEFORE UPDATE ON outbox_progress
WHEN NEW.prev <> OLD.through
BEGIN
  SELECT RAISE(ABORT, 'outbox_out_of_order');
END;

CREATE TRIGGER IF NOT EXISTS outbox_progress_starts
BEFORE INSERT ON outbox_progress
WHEN NEW.prev <> 0 AND NOT EXISTS (SELECT 1 FROM outbox_progress WHERE source = NEW.source)
BEGIN
  SELECT RAISE(ABORT, 'outbox_out_of_order');
END;

CREATE TABLE IF NOT EXISTS dead_letters (
  id TEXT PRIMARY KEY,
  source TEXT,
  after_seq INTEGER,
  through_seq INTEGER,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  recorded_at TEXT NOT NULL,
  -- 1 when the source's progress moved past it (its later writes were released).
  skipped INTEGER NOT NULL DEFAULT 0,
  replayed_at TEXT
);
CREATE INDEX IF NOT EXISTS dead_letters_time ON dead_letters (recorded_at DESC, id DESC);
