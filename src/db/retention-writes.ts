import { type D1Write, write } from "./writes";

/**
 * The D1 statements of the daily retention cron (src/audit/compaction.ts): compacting routine
 * audit events into daily rollups, and deleting expired sessions and old assessments. They run
 * directly from the cron, not through an outbox; the request paths' statements are in writes.ts.
 */

/** Assessments older than the retention cutoff, a bounded batch at a time (the cron). */
export const deleteOldAssessments = (cutoff: string, batch: number): D1Write =>
  write(
    `DELETE FROM assessments WHERE rowid IN (SELECT rowid FROM assessments WHERE created_at < ? ORDER BY rowid LIMIT ${batch})`,
    cutoff,
  );

/** The rowids of one compaction batch: routine events of one type and outcome older than the cutoff. */
const compactionBatch = (batch: number): string => `SELECT rowid FROM audit_events
  WHERE type = ?1 AND outcome = ?2 AND created_at < ?3 AND compacted_at IS NULL
  ORDER BY rowid LIMIT ${batch}`;

/** Counts a compaction batch into the daily rollups (run in one D1 batch with `compactEvents`). */
export const rollUpEvents = (type: string, outcome: string, cutoff: string, batch: number): D1Write =>
  write(
    `INSERT INTO audit_rollups (company_id, identity_id, day, type, outcome, count)
     SELECT company_id, coalesce(identity_id, ''), substr(created_at, 1, 10), type, outcome, count(*)
     FROM audit_events WHERE rowid IN (${compactionBatch(batch)})
     GROUP BY company_id, coalesce(identity_id, ''), substr(created_at, 1, 10), type, outcome
     ON CONFLICT (company_id, identity_id, day, type, outcome) DO UPDATE SET count = count + excluded.count`,
    type,
    outcome,
    cutoff,
  );

/** Drops the content of the same batch, keeping the hashes so every chain still verifies. */
export const compactEvents = (
  type: string,
  outcome: string,
  cutoff: string,
  batch: number,
  compactedAt: string,
): D1Write =>
  write(
    `UPDATE audit_events
     SET actor = NULL, ip = NULL, reason = NULL, incident_id = NULL, request_id = NULL, metadata = '{}', compacted_at = ?4
     WHERE rowid IN (${compactionBatch(batch)})`,
    type,
    outcome,
    cutoff,
    compactedAt,
  );

export const deleteExpiredSessions = (now: string): D1Write => write("DELETE FROM sessions WHERE expires_at <= ?", now);
