import { compactEvents, deleteExpiredSessions, deleteOldAssessments, rollUpEvents } from "../db/retention-writes";
import { prepare } from "../db/writes";
import { ROUTINE_EVENTS } from "../domain/audit-events";

/**
 * The daily clean-up, run by the cron trigger with the trigger's time as `nowMs`:
 * - routine events older than the retention period roll up into daily counts per identity and
 *   type, and their content is dropped (their hashes stay, so every chain still verifies);
 * - security events are never touched;
 * - the D1 mirrors of sessions that have expired are deleted (their tokens are refused by
 *   expiry alone, so nothing needs them);
 * - Sentinel assessments older than their retention are deleted, in bounded batches.
 * Each batch counts and compacts the same rows in one D1 transaction, so a run that stops
 * half way, or two runs at once, neither lose nor double-count an event.
 */
const BATCH = 500;
const DAY_MS = 86_400_000;

export interface CompactionReport {
  compactedEvents: number;
  deletedSessions: number;
  deletedAssessments: number;
}

export async function compactAuditLog(
  db: D1Database,
  nowMs: number,
  retention: { auditDays: number; assessmentDays: number },
): Promise<CompactionReport> {
  const cutoff = new Date(nowMs - retention.auditDays * DAY_MS).toISOString();
  const compactedAt = new Date(nowMs).toISOString();
  let compactedEvents = 0;

  for (const routine of ROUTINE_EVENTS) {
    for (;;) {
      const [, updated] = await db.batch([
        prepare(db, rollUpEvents(routine.type, routine.outcome, cutoff, BATCH)),
        prepare(db, compactEvents(routine.type, routine.outcome, cutoff, BATCH, compactedAt)),
      ]);
      const changes = updated?.meta.changes ?? 0;
      compactedEvents += changes;
      if (changes < BATCH) break;
    }
  }

  const deleted = await prepare(db, deleteExpiredSessions(compactedAt)).run();

  // Sentinel assessments past their retention, a bounded batch at a time.
  const assessmentCutoff = new Date(nowMs - retention.assessmentDays * DAY_MS).toISOString();
  let deletedAssessments = 0;
  for (;;) {
    const batch = await prepare(db, deleteOldAssessments(assessmentCutoff, BATCH)).run();
    deletedAssessments += batch.meta.changes;
    if (batch.meta.changes < BATCH) break;
  }
  return { compactedEvents, deletedSessions: deleted.meta.changes, deletedAssessments };
}
