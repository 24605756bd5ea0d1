import { insertDelivery } from "../db/connector-writes";
import { insertIdentityAction, revokeSessionsIssuedUpTo, updateIdentityStatus } from "../db/writes";
import { EVENT } from "../domain/audit-events";
import { isoTime, newId } from "../domain/ids";
import { type IdentityContext, recordEvent } from "./context";
import { activeSessionCount } from "./sessions";
import { type IdentityRow, recordOf } from "./storage";
import type { ActionOutcome, ActionRecord, ActionType, DeliveryTarget, DeliveryView, RequestMeta } from "./types";

const ACTION_EVENT: Record<ActionType, string> = {
  disable: EVENT.identityDisabled,
  enable: EVENT.identityEnabled,
  revoke_sessions: EVENT.sessionsRevoked,
  force_mfa: EVENT.mfaChallengeForced,
};

/**
 * Inside a transaction: a Sentinel identity action. Revoking every session is one mark however
 * many exist; each mark takes effect for the very next strong introspection, and the marks
 * version tells the KV sync there is something to push for the eventual path.
 */
export function applyIdentityAction(
  ctx: IdentityContext,
  row: IdentityRow,
  type: ActionType,
  details: { reason: string | null; incidentId: string | null },
  targets: readonly DeliveryTarget[],
  nowMs: number,
  meta: RequestMeta,
): ActionOutcome {
  const identity = recordOf(row);
  const action: ActionRecord = {
    id: newId("act", nowMs),
    type,
    identity_id: identity.id,
    reason: details.reason,
    incident_id: details.incidentId,
    performed_by: meta.actor,
    created_at: isoTime(nowMs),
  };
  let status = identity.status;
  let revokedSessions = 0;
  let mfaFromMs = row.mfa_challenge_required_from_ms;

  const revokeAll = (): void => {
    revokedSessions = activeSessionCount(ctx, row, nowMs);
    const revokedBeforeMs = Math.max(row.sessions_revoked_before_ms ?? nowMs, nowMs);
    ctx.store.sql.exec("UPDATE identity SET sessions_revoked_before_ms = ? WHERE singleton = 1", revokedBeforeMs);
    ctx.outbox.enqueue(
      revokeSessionsIssuedUpTo(identity.company_id, identity.id, isoTime(revokedBeforeMs), action.created_at),
    );
  };
  switch (type) {
    case "disable":
      status = "disabled";
      revokeAll();
      break;
    case "enable":
      status = "active";
      break;
    case "revoke_sessions":
      revokeAll();
      break;
    case "force_mfa":
      mfaFromMs = Math.max(row.mfa_challenge_required_from_ms ?? nowMs, nowMs);
      ctx.store.sql.exec("UPDATE identity SET mfa_challenge_required_from_ms = ? WHERE singleton = 1", mfaFromMs);
      break;
  }
  if (status !== identity.status) {
    ctx.store.sql.exec("UPDATE identity SET status = ? WHERE singleton = 1", status);
    ctx.outbox.enqueue(updateIdentityStatus(identity.id, status));
  }
  ctx.store.sql.exec("UPDATE identity SET marks_version = marks_version + 1 WHERE singleton = 1");
  ctx.outbox.enqueue(insertIdentityAction({ ...action, company_id: identity.company_id }));
  // Its deliveries to the company's connectors, durable with it: the deliveries queue carries
  // them after the answer (src/connectors). force-mfa has no provider call.
  const deliveries = targets.map((target): DeliveryView => {
    const delivery: DeliveryView = {
      id: newId("dlv", nowMs),
      connector_id: target.connector_id,
      type: target.connector_type,
      status: type === "force_mfa" ? "not_applicable" : "pending",
      attempts: 0,
      last_error: null,
    };
    ctx.outbox.enqueue(
      insertDelivery({
        id: delivery.id,
        company_id: identity.company_id,
        action_id: action.id,
        identity_id: identity.id,
        connector_id: target.connector_id,
        connector_type: target.connector_type,
        action_type: type,
        sequence: row.marks_version + 1,
        provider_user_id: target.provider_user_id,
        status: delivery.status,
        created_at: action.created_at,
      }),
    );
    return delivery;
  });
  recordEvent(ctx, identity, nowMs, meta, {
    type: ACTION_EVENT[type],
    outcome: "success",
    reason: action.reason,
    incident_id: action.incident_id,
    metadata: {
      action_id: action.id,
      ...(type === "disable" || type === "revoke_sessions" ? { revoked_sessions: revokedSessions } : {}),
      ...(type === "disable" || type === "enable" ? { previous_status: identity.status } : {}),
    },
  });
  return {
    result: "applied",
    action,
    deliveries,
    identity: { id: identity.id, status },
    revokedSessions,
    mfaChallengeRequiredFrom: mfaFromMs === null ? null : isoTime(mfaFromMs),
  };
}
