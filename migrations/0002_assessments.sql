-- Sentinel assessments: written by each identity's Durable Object through its outbox.
CREATE TABLE IF NOT EXISTS assessments (
  id TEXT PRIMARY KEY,
  company_id TEXT NOT NULL,
  identity_id TEXT NOT NULL,
  context TEXT NOT NULL,
  risk_score REAL NOT NULL,
  recommendation TEXT NOT NULL CHECK (recommendation IN ('allow', 'challenge', 'deny')),
  signals TEXT NOT NULL,
  policy_version INTEGER NOT NULL,
  mode TEXT NOT NULL CHECK (mode IN ('enforce', 'monitor')),
  created_at TEXT NOT NULL,
  feedback_verdict TEXT CHECK (feedback_verdict IN ('legitimate', 'fraudulent')),
  feedback_at TEXT
);
CREATE INDEX IF NOT EXISTS assessments_identity ON assessments (company_id, identity_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS assessments_company ON assessments (company_id, created_at DESC, id DESC);
