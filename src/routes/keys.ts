import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireAdmin } from "../http/admin-auth";
import type { AppEnv } from "../http/context";
import { errorResponses } from "../http/schemas";
import { defaultHook } from "../http/validation";
import { sweepTotpKeys, totpKeyReport } from "../keys/totp-keys";

const security = [{ adminToken: [] }];
/** Holders of secrets one sweep visits by default, and at most (each is a call to a Durable Object). */
const SWEEP_DEFAULT = 200;
const SWEEP_MAX = 500;

const KeyCountSchema = z
  .object({
    key_id: z.string(),
    current: z.boolean().openapi({ description: "The key new seals use (the first of TOTP_ENCRYPTION_KEYS)." }),
    in_keyring: z.boolean().openapi({
      description:
        "Whether TOTP_ENCRYPTION_KEYS lists it. false: D1 says it seals something the Worker can no longer open (a key removed too early: put it back).",
    }),
    totp_secrets: z
      .number()
      .int()
      .openapi({ description: "Identities' TOTP secrets it seals, active and pending confirmation each counted." }),
    connector_credentials: z.number().int().openapi({ description: "Live connectors whose credentials it seals." }),
    retirable: z.boolean().openapi({
      description:
        "Not the current key, sealing nothing, and no secret's key unknown: it can leave TOTP_ENCRYPTION_KEYS.",
    }),
  })
  .openapi("TotpKeyCount");

const TotpKeyReportSchema = z
  .object({
    current_key_id: z.string(),
    keys: z.array(KeyCountSchema).openapi({
      description: "Every key of the keyring, then any other key id something is still sealed under.",
    }),
    totp_secrets_unknown: z.number().int().openapi({
      description:
        "TOTP secrets whose key D1 does not know yet (identities enrolled before it recorded keys): the sweep visits them.",
    }),
    connector_credentials_unknown: z
      .number()
      .int()
      .openapi({ description: "Live connectors whose credentials are not a seal D1 can read a key id from." }),
  })
  .openapi("TotpKeyReport");

const SweepSchema = z
  .object({
    current_key_id: z.string(),
    totp: z.object({
      visited: z.number().int(),
      resealed: z.number().int(),
      already_current: z.number().int().openapi({
        description: "Identities whose object had its secrets under the current key already (D1 was behind).",
      }),
      failed: z.number().int(),
      remaining: z.number().int().openapi({
        description:
          "Identities D1 says still hold a secret not sealed under the current key (unknown keys and keys no longer in the keyring included).",
      }),
    }),
    connectors: z.object({
      visited: z.number().int(),
      resealed: z.number().int(),
      failed: z.number().int(),
      remaining: z.number().int(),
    }),
    failures: z.array(
      z.object({ kind: z.enum(["identity", "connector"]), id: z.string(), reason: z.string() }).openapi("SweepFailure"),
    ),
  })
  .openapi("TotpKeySweep");

const report = createRoute({
  method: "get",
  path: "/keys/totp",
  operationId: "reportTotpKeys",
  tags: ["admin"],
  summary: "Per key of TOTP_ENCRYPTION_KEYS, the sealed secrets it still seals (from D1), so an old key can go",
  security,
  middleware: [requireAdmin] as const,
  responses: {
    200: { description: "OK", content: { "application/json": { schema: TotpKeyReportSchema } } },
    ...errorResponses(["not_found"]),
  },
});

const sweep = createRoute({
  method: "post",
  path: "/keys/totp/sweep",
  operationId: "sweepTotpKeys",
  tags: ["admin"],
  summary:
    "Seal again under the current key up to `limit` identities' TOTP secrets and connectors' credentials sealed under an older one; call until nothing remains",
  security,
  middleware: [requireAdmin] as const,
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(SWEEP_MAX).default(SWEEP_DEFAULT).openapi({
        description: "Holders of secrets (connectors, then identities) this call visits.",
      }),
    }),
  },
  responses: {
    200: { description: "Swept", content: { "application/json": { schema: SweepSchema } } },
    ...errorResponses(["not_found"]),
  },
});

export const keyRoutes = new OpenAPIHono<AppEnv>({ defaultHook })
  .openapi(report, async (c) => c.json(await totpKeyReport(c.env), 200))
  .openapi(sweep, async (c) => {
    const { limit } = c.req.valid("query");
    return c.json(await sweepTotpKeys(c.env, limit, Date.now(), c.get("requestId")), 200);
  });
