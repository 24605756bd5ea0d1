import { EVENT } from "../domain/audit-events";
import { hashBackupCode, normalizeBackupCode } from "../domain/backup-codes";
import { isoTime } from "../domain/ids";
import { type IdentityContext, recordEvent } from "./context";
import { type IdentityRow, recordOf } from "./storage";
import type { RequestMeta } from "./types";

/** Inside a transaction: replaces the backup codes with `codes`, hashed with a new salt. */
export function replaceBackupCodes(
  ctx: IdentityContext,
  row: IdentityRow,
  codes: readonly string[],
  salt: string,
  nowMs: number,
  meta: RequestMeta,
): void {
  const pepper = ctx.backupPepper();
  ctx.store.sql.exec("DELETE FROM backup_codes");
  ctx.store.sql.exec("UPDATE identity SET backup_salt = ? WHERE singleton = 1", salt);
  for (const code of codes) {
    const canonical = normalizeBackupCode(code) ?? "";
    ctx.store.sql.exec("INSERT INTO backup_codes (hash) VALUES (?)", hashBackupCode(canonical, pepper, salt));
  }
  recordEvent(ctx, recordOf(row), nowMs, meta, {
    type: EVENT.backupCodesGenerated,
    outcome: "success",
    metadata: { count: codes.length, replaced_previous: row.backup_salt !== null },
  });
}

/** The stored hash of `code` if it is an unused backup code of this identity, else null. */
export function findUnusedBackupCode(ctx: IdentityContext, row: IdentityRow, code: string): string | null {
  const canonical = normalizeBackupCode(code);
  if (canonical === null || row.backup_salt === null) return null;
  const hash = hashBackupCode(canonical, ctx.backupPepper(), row.backup_salt);
  const found = ctx.store.sql
    .exec<{ hash: string }>("SELECT hash FROM backup_codes WHERE hash = ? AND used_at IS NULL", hash)
    .toArray()[0];
  return found?.hash ?? null;
}

/**
 * Whether `code` is a backup code used at or after `sinceMs`: a client resending the request
 * that used it (refused as `code_reused`, not counted as a failure; see decideVerify).
 */
export function recentlyUsedBackupCode(ctx: IdentityContext, row: IdentityRow, code: string, sinceMs: number): boolean {
  const canonical = normalizeBackupCode(code);
  if (canonical === null || row.backup_salt === null) return false;
  const hash = hashBackupCode(canonical, ctx.backupPepper(), row.backup_salt);
  return (
    ctx.store.sql
      .exec("SELECT 1 AS used FROM backup_codes WHERE hash = ? AND used_at >= ?", hash, isoTime(sinceMs))
      .toArray().length > 0
  );
}

/** Inside a transaction: uses up the backup code stored as `hash`. */
export function useBackupCode(ctx: IdentityContext, hash: string, nowMs: number): void {
  ctx.store.sql.exec("UPDATE backup_codes SET used_at = ? WHERE hash = ?", isoTime(nowMs), hash);
}
