import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireScope } from "../http/api-key-auth";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/json-body";
import { refusal } from "../http/refusals";
import { API_KEY_CODES, BODY_CODES, ExternalUserIdQuery, errorResponses } from "../http/schemas";
import { defaultHook } from "../http/validation";
import { identityGuard } from "../identity/guard";

const BACKUP_CODE_COUNT = 10;

const regenerate = createRoute({
  method: "post",
  path: "/backup-codes",
  operationId: "generateBackupCodes",
  tags: ["mfa"],
  summary: "Generate 10 single-use backup codes, replacing any previous set (idp:write)",
  security: [{ apiKey: [] }],
  middleware: [requireScope("idp:write"), jsonBody] as const,
  request: {
    query: ExternalUserIdQuery,
    body: { required: false, content: { "application/json": { schema: z.strictObject({}) } } },
  },
  responses: {
    201: {
      description: "Set of 10 backup codes generated.",
      content: {
        "application/json": {
          schema: z.object({
            user: z.object({
              id: z.string().openapi({ description: "The external id" }),
              backupCodes: z.array(z.string().openapi({ example: "ABCD-1234" })),
            }),
          }),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES, ...BODY_CODES, "not_found", "identity_disabled"]),
  },
});

export const backupCodeRoutes = new OpenAPIHono<AppEnv>({ defaultHook }).openapi(regenerate, async (c) => {
  const { externalUserId } = c.req.valid("query");
  const caller = c.get("caller");
  const result = await identityGuard(c.env, caller.companyId, externalUserId).regenerateBackupCodes(
    BACKUP_CODE_COUNT,
    Date.now(),
    { actor: caller.keyId, requestId: c.get("requestId") },
  );
  if (result.result !== "generated") throw refusal(result.result);
  return c.json({ user: { id: externalUserId, backupCodes: result.codes } }, 201);
});
