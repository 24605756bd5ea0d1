import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ApiError } from "../errors";
import { requireScope } from "../http/api-key-auth";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/json-body";
import { refusal } from "../http/refusals";
import {
  API_KEY_CODES,
  BODY_CODES,
  ExternalIdSchema,
  ExternalUserIdQuery,
  errorResponses,
  ISO_TIME,
} from "../http/schemas";
import { defaultHook } from "../http/validation";
import { identityGuard } from "../identity/guard";

const security = [{ apiKey: [] }];

export const ProfileSchema = z
  .object({
    id: z.string(),
    external_id: z.string(),
    status: z.enum(["active", "disabled"]),
    has_otp: z.boolean(),
    has_passkeys: z.boolean(),
    is_locked: z.boolean(),
    failed_attempts: z.number().int(),
    saas_client_id: z.string(),
    backup_codes_remaining: z.number().int(),
    locked_until: ISO_TIME.nullable(),
    mfa_challenge_required_from: ISO_TIME.nullable(),
    created_at: ISO_TIME,
  })
  .openapi("IdentityProfile");

const provision = createRoute({
  method: "post",
  path: "/users",
  operationId: "provisionIdentity",
  tags: ["identities"],
  summary: "Provision a managed identity for an external user id (idp:write)",
  security,
  middleware: [requireScope("idp:write"), jsonBody] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": { schema: z.strictObject({ user: z.strictObject({ external_id: ExternalIdSchema }) }) },
      },
    },
  },
  responses: {
    201: {
      description: "User identity successfully provisioned.",
      content: {
        "application/json": {
          schema: z.object({
            user: z.object({ id: z.string(), external_id: z.string(), status: z.enum(["active", "disabled"]) }),
          }),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES, ...BODY_CODES, "identity_exists"]),
  },
});

const profile = createRoute({
  method: "get",
  path: "/users",
  operationId: "getIdentityProfile",
  tags: ["identities"],
  summary: "Retrieve the live security profile of an identity (idp:read)",
  security,
  middleware: [requireScope("idp:read")] as const,
  request: { query: ExternalUserIdQuery },
  responses: {
    200: { description: "Identity profile retrieved.", content: { "application/json": { schema: ProfileSchema } } },
    ...errorResponses([...API_KEY_CODES, "not_found"]),
  },
});

const unlock = createRoute({
  method: "post",
  path: "/users/unlock",
  operationId: "unlockIdentity",
  tags: ["identities"],
  summary: "Clear the lock, the failure count and the lockout escalation (idp:write)",
  security,
  middleware: [requireScope("idp:write"), jsonBody] as const,
  request: {
    query: ExternalUserIdQuery,
    body: { required: false, content: { "application/json": { schema: z.strictObject({}) } } },
  },
  responses: {
    200: { description: "Unlocked; the profile after it.", content: { "application/json": { schema: ProfileSchema } } },
    ...errorResponses([...API_KEY_CODES, ...BODY_CODES, "not_found"]),
  },
});

export const identityRoutes = new OpenAPIHono<AppEnv>({ defaultHook })
  .openapi(provision, async (c) => {
    const { user } = c.req.valid("json");
    const caller = c.get("caller");
    const result = await identityGuard(c.env, caller.companyId, user.external_id).provision(
      caller.companyId,
      user.external_id,
      Date.now(),
      { actor: caller.keyId, requestId: c.get("requestId") },
    );
    if (!result.created) throw new ApiError("identity_exists");
    const { id, external_id, status } = result.identity;
    return c.json({ user: { id, external_id, status } }, 201);
  })
  .openapi(profile, async (c) => {
    const { externalUserId } = c.req.valid("query");
    const caller = c.get("caller");
    const found = await identityGuard(c.env, caller.companyId, externalUserId).profile(Date.now());
    if (!found) throw refusal("not_found");
    return c.json(found, 200);
  })
  .openapi(unlock, async (c) => {
    const { externalUserId } = c.req.valid("query");
    const caller = c.get("caller");
    const profile = await identityGuard(c.env, caller.companyId, externalUserId).unlock(Date.now(), {
      actor: caller.keyId,
      requestId: c.get("requestId"),
    });
    if (!profile) throw refusal("not_found");
    return c.json(profile, 200);
  });
