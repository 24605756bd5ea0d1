import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Context } from "hono";
import { companyLedger } from "../company/ledger";
import type { Env } from "../config/env";
import { deliveriesOf, deliveryTargets } from "../connectors/store";
import { identityActions } from "../db/schema";
import { ApiError } from "../errors";
import { ActionSchema, actionToWire, DeliverySchema, type DeliveryWire } from "../http/action-schema";
import { requireScope } from "../http/api-key-auth";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/json-body";
import { API_KEY_CODES, BODY_CODES, errorResponses, ISO_TIME, plainText } from "../http/schemas";
import { defaultHook } from "../http/validation";
import { externalIdOf } from "../identity/directory";
import { identityGuard } from "../identity/guard";
import type { ActionOutcome, ActionType } from "../identity/types";

const security = [{ apiKey: [] }];
/** The contract names the path parameter `userId`; it is the internal identity id (`idn_...`). */
const IdentityPathParams = z.object({
  userId: plainText(1, 128).openapi({
    example: "idn_42c9d108cb9132d462da0f97ad8a6a0ecb43e0ada40c02213ecd731b89d81aa6",
    description: "The internal identity id",
  }),
});
const reason = plainText(1, 1000);
const incidentId = plainText(1, 128).openapi({
  description: "One of our incidents (must be open), or an external reference kept as given",
});

const IdentityStatusSchema = z.object({ id: z.string(), status: z.enum(["active", "disabled"]) });

function actionRoute<Body extends z.ZodType, Data extends z.ZodType>(options: {
  path: string;
  operationId: string;
  summary: string;
  body: Body;
  bodyRequired: boolean;
  data: Data;
}) {
  return createRoute({
    method: "post",
    path: options.path,
    operationId: options.operationId,
    tags: ["sentinel"],
    summary: options.summary,
    security,
    middleware: [requireScope("sentinel:write"), jsonBody] as const,
    request: {
      params: IdentityPathParams,
      body: { required: options.bodyRequired, content: { "application/json": { schema: options.body } } },
    },
    responses: {
      200: { description: "Done", content: { "application/json": { schema: z.object({ data: options.data }) } } },
      ...errorResponses([...API_KEY_CODES, ...BODY_CODES, "not_found", "incident_closed"]),
    },
  });
}

const disable = actionRoute({
  path: "/identity/{userId}/disable",
  operationId: "disableIdentity",
  summary: "Disable an account: its sessions are revoked, its codes refused, Sentinel denies it (sentinel:write)",
  body: z.strictObject({ reason, incident_id: incidentId.optional() }),
  bodyRequired: true,
  data: z.object({ action: ActionSchema, deliveries: z.array(DeliverySchema), identity: IdentityStatusSchema }),
});

const enable = actionRoute({
  path: "/identity/{userId}/enable",
  operationId: "enableIdentity",
  summary: "Enable a disabled account; revoked sessions stay revoked (sentinel:write)",
  body: z.strictObject({ reason, incident_id: incidentId.optional() }),
  bodyRequired: true,
  data: z.object({ action: ActionSchema, deliveries: z.array(DeliverySchema), identity: IdentityStatusSchema }),
});

const revokeSessions = actionRoute({
  path: "/identity/{userId}/revoke-sessions",
  operationId: "revokeIdentitySessions",
  summary: "Revoke every active session at once (sentinel:write)",
  body: z.strictObject({ reason: reason.optional(), incident_id: incidentId.optional() }),
  bodyRequired: false,
  data: z.object({ action: ActionSchema, deliveries: z.array(DeliverySchema), revoked_sessions: z.number().int() }),
});

const forceMfa = actionRoute({
  path: "/identity/{userId}/force-mfa",
  operationId: "forceIdentityMfa",
  summary: "Require MFA again from every session verified up to now (sentinel:write)",
  body: z.strictObject({ reason: reason.optional(), incident_id: incidentId.optional() }),
  bodyRequired: false,
  data: z.object({ action: ActionSchema, deliveries: z.array(DeliverySchema), mfa_challenge_required_from: ISO_TIME }),
});

const listActions = createRoute({
  method: "get",
  path: "/identity/{userId}/actions",
  operationId: "listIdentityActions",
  tags: ["sentinel"],
  summary: "Actions taken on an identity, newest first (sentinel:read)",
  security,
  middleware: [requireScope("sentinel:read")] as const,
  request: { params: IdentityPathParams },
  responses: {
    200: {
      description: "The actions",
      content: { "application/json": { schema: z.object({ actions: z.array(ActionSchema) }) } },
    },
    ...errorResponses([...API_KEY_CODES, "not_found"]),
  },
});

const identityIdOf = (params: { userId: string }): string => params.userId;

/** The caller's identity with this internal id (through the directory), or 404 as if it did not exist. */
async function findIdentity(env: Env, companyId: string, identityId: string): Promise<{ externalId: string }> {
  const externalId = await externalIdOf(env, companyId, identityId);
  if (externalId === null) throw new ApiError("not_found", {}, { message: "Identity not found" });
  return { externalId };
}

/**
 * Applies an action to the identity `identityId` names. An `incident_id` that is one of ours is
 * linked by the company's ledger, the place that also closes incidents, so no action links to an
 * incident after its close (409 once it is closed); any other id is kept as an external reference.
 */
async function act(
  c: Context<AppEnv>,
  identityId: string,
  type: ActionType,
  body: { reason?: string | undefined; incident_id?: string | undefined },
): Promise<ActionOutcome> {
  const { env } = c;
  const caller = c.get("caller");
  const nowMs = Date.now();
  const { externalId } = await findIdentity(env, caller.companyId, identityId);
  const ledger = companyLedger(env, caller.companyId);
  const incidentId = body.incident_id ?? null;
  const link = incidentId === null ? "external" : await ledger.linkAction(incidentId, nowMs);
  if (link === "closed") throw new ApiError("incident_closed", { incident_id: incidentId });
  try {
    const targets = await deliveryTargets(env.DB, caller.companyId, identityId, externalId);
    const outcome = await identityGuard(env, caller.companyId, externalId).applyAction(
      identityId,
      type,
      { reason: body.reason ?? null, incidentId },
      targets,
      nowMs,
      { actor: caller.keyId, requestId: c.get("requestId") },
    );
    if (outcome.result !== "applied") throw new ApiError("not_found", {}, { message: "Identity not found" });
    await dispatch(env, outcome);
    return outcome;
  } finally {
    if (link === "linked" && incidentId !== null) await ledger.actionSettled(incidentId);
  }
}

/**
 * Hands the action's pending deliveries to the deliveries queue. Never fails the action: the
 * deliveries are in D1 already, and the sweep (every 5 minutes) sends again any that no message
 * moved for 10 minutes.
 */
async function dispatch(env: Env, outcome: ActionOutcome): Promise<void> {
  const pending = outcome.deliveries.filter((d) => d.status === "pending");
  if (pending.length === 0) return;
  try {
    await env.CONNECTOR_DELIVERIES.sendBatch(pending.map((d) => ({ body: { v: 1, delivery_id: d.id } })));
  } catch (error) {
    console.error(
      JSON.stringify({
        level: "error",
        msg: "connector deliveries: send failed, the sweep will resend",
        error: String(error),
      }),
    );
  }
}

/** The action as answered: its deliveries both on it and beside it (`data.deliveries`). */
function answered(outcome: ActionOutcome) {
  const deliveries = outcome.deliveries as DeliveryWire[];
  return { action: { ...outcome.action, deliveries }, deliveries };
}

export const identityActionRoutes = new OpenAPIHono<AppEnv>({ defaultHook })
  .openapi(disable, async (c) => {
    const out = await act(c, identityIdOf(c.req.valid("param")), "disable", c.req.valid("json"));
    return c.json({ data: { ...answered(out), identity: out.identity } }, 200);
  })
  .openapi(enable, async (c) => {
    const out = await act(c, identityIdOf(c.req.valid("param")), "enable", c.req.valid("json"));
    return c.json({ data: { ...answered(out), identity: out.identity } }, 200);
  })
  .openapi(revokeSessions, async (c) => {
    const out = await act(c, identityIdOf(c.req.valid("param")), "revoke_sessions", c.req.valid("json"));
    return c.json({ data: { ...answered(out), revoked_sessions: out.revokedSessions } }, 200);
  })
  .openapi(forceMfa, async (c) => {
    const out = await act(c, identityIdOf(c.req.valid("param")), "force_mfa", c.req.valid("json"));
    if (out.mfaChallengeRequiredFrom === null) throw new Error("force-mfa left no challenge mark");
    return c.json({ data: { ...answered(out), mfa_challenge_required_from: out.mfaChallengeRequiredFrom } }, 200);
  })
  .openapi(listActions, async (c) => {
    const identityId = identityIdOf(c.req.valid("param"));
    const { companyId } = c.get("caller");
    await findIdentity(c.env, companyId, identityId);
    const rows = await drizzle(c.env.DB)
      .select()
      .from(identityActions)
      .where(and(eq(identityActions.companyId, companyId), eq(identityActions.identityId, identityId)))
      .orderBy(desc(identityActions.createdAt), desc(identityActions.id))
      .all();
    const deliveries = await deliveriesOf(
      c.env.DB,
      companyId,
      rows.map((r) => r.id),
    );
    return c.json({ actions: rows.map((r) => actionToWire(r, deliveries)) }, 200);
  });
