import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { sessionKeyring } from "../config/keyrings";
import { sessions } from "../db/schema";
import { isoTime } from "../domain/ids";
import { readSessionToken } from "../domain/session-token";
import { ApiError } from "../errors";
import { requireScope } from "../http/api-key-auth";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/json-body";
import { refusal } from "../http/refusals";
import { API_KEY_CODES, BODY_CODES, ExternalUserIdQuery, errorResponses, ISO_TIME, plainText } from "../http/schemas";
import { defaultHook } from "../http/validation";
import { identityGuard } from "../identity/guard";
import { eventualSessionVerdict } from "../identity/marks";

const security = [{ apiKey: [] }];

const SessionSchema = z
  .object({
    id: z.string(),
    identity_id: z.string(),
    external_id: z.string(),
    created_at: ISO_TIME,
    expires_at: ISO_TIME,
    mfa_verified_at: ISO_TIME,
  })
  .openapi("Session");

const introspect = createRoute({
  method: "post",
  path: "/sessions/introspect",
  operationId: "introspectSession",
  tags: ["sessions"],
  summary: "Does this session token still hold? (idp:read)",
  description:
    "`strong` (default) asks the identity's Durable Object: a revoke, disable or force-mfa shows on the very next call. " +
    "`eventual` answers from the token and KV alone: faster, but a revocation may take up to about 60 s to show.",
  security,
  middleware: [requireScope("idp:read"), jsonBody] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z.strictObject({
            session: z.strictObject({ token: z.string().max(4096) }),
            consistency: z.enum(["strong", "eventual"]).default("strong"),
          }),
        },
      },
    },
  },
  responses: {
    200: {
      description: "Active, with the session; or inactive, with the reason",
      content: {
        "application/json": {
          schema: z.union([
            z.object({ active: z.literal(true), session: SessionSchema, mfa_required: z.boolean() }),
            z.object({ active: z.literal(false), reason: z.enum(["revoked", "expired", "disabled", "invalid"]) }),
          ]),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES, ...BODY_CODES]),
  },
});

const list = createRoute({
  method: "get",
  path: "/sessions",
  operationId: "listSessions",
  tags: ["sessions"],
  summary: "Active sessions of an identity (idp:read)",
  security,
  middleware: [requireScope("idp:read")] as const,
  request: { query: ExternalUserIdQuery },
  responses: {
    200: {
      description: "Active sessions, oldest first",
      content: {
        "application/json": {
          schema: z.object({
            sessions: z.array(
              SessionSchema.extend({
                mfa_required: z.boolean(),
                ip: z.string().nullable(),
                user_agent: z.string().nullable(),
              }),
            ),
          }),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES, "not_found"]),
  },
});

const revoke = createRoute({
  method: "delete",
  path: "/sessions/{id}",
  operationId: "revokeSession",
  tags: ["sessions"],
  summary: "Revoke one session (idp:write)",
  security,
  middleware: [requireScope("idp:write")] as const,
  request: { params: z.object({ id: plainText(1, 64) }) },
  responses: {
    200: {
      description: "Revoked (revoking again answers the first revocation's time)",
      content: {
        "application/json": { schema: z.object({ session: z.object({ id: z.string(), revoked_at: ISO_TIME }) }) },
      },
    },
    ...errorResponses([...API_KEY_CODES, "not_found"]),
  },
});

type Inactive = { active: false; reason: "revoked" | "expired" | "disabled" | "invalid" };

export const sessionRoutes = new OpenAPIHono<AppEnv>({ defaultHook })
  .openapi(introspect, async (c) => {
    const body = c.req.valid("json");
    const { companyId } = c.get("caller");
    const nowMs = Date.now();
    const claims = await readSessionToken(body.session.token, sessionKeyring(c.env));
    // Another company's token is as unknown to this caller as garbage.
    if (!claims || claims.cid !== companyId)
      return c.json({ active: false, reason: "invalid" } satisfies Inactive, 200);
    if (nowMs >= claims.expiresAtMs) return c.json({ active: false, reason: "expired" } satisfies Inactive, 200);

    const status =
      body.consistency === "eventual"
        ? await eventualSessionVerdict(c.env.REVOCATIONS, {
            sessionId: claims.sid,
            identityId: claims.iid,
            issuedAtMs: claims.issuedAtMs,
            mfaVerifiedAtMs: claims.mfaVerifiedAtMs,
          })
        : await identityGuard(c.env, claims.cid, claims.ext).sessionStatus(claims.sid, claims.iid);
    if (!status.active) return c.json({ active: false, reason: status.reason } satisfies Inactive, 200);
    return c.json(
      {
        active: true as const,
        session: {
          id: claims.sid,
          identity_id: claims.iid,
          external_id: claims.ext,
          created_at: isoTime(claims.issuedAtMs),
          expires_at: isoTime(claims.expiresAtMs),
          mfa_verified_at: isoTime(claims.mfaVerifiedAtMs),
        },
        mfa_required: status.mfaRequired,
      },
      200,
    );
  })
  .openapi(list, async (c) => {
    const { externalUserId } = c.req.valid("query");
    const { companyId } = c.get("caller");
    const found = await identityGuard(c.env, companyId, externalUserId).listSessions(Date.now());
    if (!found) throw refusal("not_found");
    return c.json({ sessions: [...found] }, 200);
  })
  .openapi(revoke, async (c) => {
    const { id } = c.req.valid("param");
    const caller = c.get("caller");
    const row = await drizzle(c.env.DB)
      .select({ externalId: sessions.externalId })
      .from(sessions)
      .where(and(eq(sessions.id, id), eq(sessions.companyId, caller.companyId)))
      .get();
    if (!row) throw new ApiError("not_found", {}, { message: "Session not found" });
    const result = await identityGuard(c.env, caller.companyId, row.externalId).revokeSession(id, Date.now(), {
      actor: caller.keyId,
      requestId: c.get("requestId"),
    });
    if (result.result === "not_found") throw new ApiError("not_found", {}, { message: "Session not found" });
    return c.json({ session: { id, revoked_at: result.revokedAt } }, 200);
  });
