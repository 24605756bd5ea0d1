import { ROUTINE_EVENTS } from "./event-types";

/**
 * The daily clean-up, run by the cron trigger with the trigger's time as `nowMs`:
 * - routine events older than the retention period roll up into daily counts per identity and
 *   type, and their content is dropped (their hashes stay, so every chain still verifies);
 * - security events are never touched;
 * - the D1 mirrors of sessions that have expired are deleted (their tokens are refused by
 *   expiry alone, so nothing needs them).
 * Each batch counts and compacts the same rows in one D1 transaction, so a run that stops
 * half way, or two runs at once, neither lose nor double-count an event.
 */
const BATCH = 500;
const DAY_MS = 86_400_000;

export interface CompactionReport {
  compactedEvents: number;
  deletedSessions: number;
}

export async function compactAuditLog(db: D1Database, nowMs: number, retentionDays: number): Promise<CompactionReport> {
  const cutoff = new Date(nowMs - retentionDays * DAY_MS).toISOString();
  const compactedAt = new Date(nowMs).toISOString();
  let compactedEvents = 0;

  for (const routine of ROUTINE_EVENTS) {
    const batchRows = `SELECT rowid FROM audit_events
      WHERE type = ?1 AND outcome = ?2 AND created_at < ?3 AND compacted_at IS NULL
      ORDER BY rowid LIMIT ${BATCH}`;
    for (;;) {
      const [, updated] = await db.batch([
        db
          .prepare(
            `INSERT INTO audit_rollups (company_id, identity_id, day, type, outcome, count)
             SELECT company_id, coalesce(identity_id, ''), substr(created_at, 1, 10), type, outcome, count(*)
             FROM audit_events WHERE rowid IN (${batchRows})
             GROUP BY company_id, coalesce(identity_id, ''), substr(created_at, 1, 10), type, outcome
             ON CONFLICT (company_id, identity_id, day, type, outcome) DO UPDATE SET count = count + excluded.count`,
          )
          .bind(routine.type, routine.outcome, cutoff),
        db
          .prepare(
            `UPDATE audit_events
             SET actor = NULL, ip = NULL, reason = NULL, incident_id = NULL, request_id = NULL, metadata = '{}', compacted_at = ?4
             WHERE rowid IN (${batchRows})`,
          )
          .bind(routine.type, routine.outcome, cutoff, compactedAt),
      ]);
      const changes = updated?.meta.changes ?? 0;
      compactedEvents += changes;
      if (changes < BATCH) break;
    }
  }

  const deleted = await db.prepare("DELETE FROM sessions WHERE expires_at <= ?").bind(compactedAt).run();
  return { compactedEvents, deletedSessions: deleted.meta.changes };
}
