import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { companyLedger } from "../company/ledger";
import { olderThan, pageOf } from "../db/page-cursor";
import { apiKeys, companies } from "../db/schema";
import { insertApiKey, revokeApiKey } from "../db/writes";
import { ADMIN_ACTOR, EVENT } from "../domain/audit-events";
import { isoTime, newId } from "../domain/ids";
import { ApiError } from "../errors";
import { requireAdmin } from "../http/admin-auth";
import { forgetKey, generateApiKey } from "../http/api-key-auth";
import { type AppEnv, SCOPES, type Scope } from "../http/context";
import { jsonBody } from "../http/json-body";
import { BODY_CODES, errorResponses, ISO_TIME, plainText } from "../http/schemas";
import { defaultHook } from "../http/validation";

const security = [{ adminToken: [] }];

const ApiKeySchema = z
  .object({
    id: z.string(),
    key: z.string().openapi({ description: "Shown once, now; only its hash is stored." }),
    prefix: z.string(),
    company_id: z.string(),
    name: z.string().nullable(),
    scopes: z.array(z.enum(SCOPES)),
    mode: z.enum(["live", "test"]),
    created_at: ISO_TIME,
  })
  .openapi("ApiKeyCreated");
const createApiKey = createRoute({
  method: "post",
  path: "/api-keys",
  operationId: "createApiKey",
  tags: ["admin"],
  summary: "Create an API key for a company; the key is shown once",
  security,
  middleware: [requireAdmin, jsonBody] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z.strictObject({
            company_id: plainText(1, 64),
            scopes: z.array(z.enum(SCOPES)).min(1),
            name: plainText(1, 200).optional(),
            mode: z.enum(["live", "test"]).default("live"),
          }),
        },
      },
    },
  },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: z.object({ api_key: ApiKeySchema }) } } },
    ...errorResponses([...BODY_CODES, "not_found"]),
  },
});

/** A key as listed: what it is and may do, never the key or its hash. */
const ApiKeySummarySchema = z
  .object({
    id: z.string(),
    company_id: z.string(),
    name: z.string().nullable(),
    prefix: z.string().openapi({ description: "The key's first characters, to recognise it; not a secret." }),
    scopes: z.array(z.enum(SCOPES)),
    mode: z.enum(["live", "test"]),
    created_at: ISO_TIME,
    revoked_at: ISO_TIME.nullable(),
  })
  .openapi("ApiKey");

const listApiKeys = createRoute({
  method: "get",
  path: "/api-keys",
  operationId: "listApiKeys",
  tags: ["admin"],
  summary: "A company's API keys, revoked ones included, newest first (never the keys themselves)",
  security,
  middleware: [requireAdmin] as const,
  request: {
    query: z.object({
      company_id: plainText(1, 64),
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: plainText(1, 200).optional(),
    }),
  },
  responses: {
    200: {
      description: "A page of API keys",
      content: {
        "application/json": {
          schema: z.object({ api_keys: z.array(ApiKeySummarySchema), next_cursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses(["not_found"]),
  },
});

const revokeApiKeyRoute = createRoute({
  method: "delete",
  path: "/api-keys/{id}",
  operationId: "revokeApiKey",
  tags: ["admin"],
  summary: "Revoke an API key (stops working everywhere within 60 s)",
  security,
  middleware: [requireAdmin] as const,
  request: { params: z.object({ id: plainText(1, 64) }) },
  responses: {
    200: {
      description: "Revoked",
      content: {
        "application/json": {
          schema: z.object({ api_key: z.object({ id: z.string(), revoked_at: ISO_TIME }) }),
        },
      },
    },
    ...errorResponses(["not_found"]),
  },
});

export const apiKeyRoutes = new OpenAPIHono<AppEnv>({ defaultHook })
  .openapi(createApiKey, async (c) => {
    const body = c.req.valid("json");
    const db = drizzle(c.env.DB);
    const company = await db
      .select({ id: companies.id })
      .from(companies)
      .where(eq(companies.id, body.company_id))
      .get();
    if (!company) throw new ApiError("not_found", {}, { message: "Company not found" });

    const nowMs = Date.now();
    const scopes = [...new Set(body.scopes)];
    const generated = generateApiKey(body.mode);
    const row = {
      id: newId("key", nowMs),
      companyId: company.id,
      name: body.name ?? null,
      prefix: generated.prefix,
      keyHash: generated.hash,
      scopes: JSON.stringify(scopes),
      mode: body.mode,
      createdAt: isoTime(nowMs),
    };
    await companyLedger(c.env, company.id).record(company.id, nowMs, {
      writes: [insertApiKey(row)],
      events: [
        {
          type: EVENT.apiKeyCreated,
          outcome: "success",
          actor: ADMIN_ACTOR,
          request_id: c.get("requestId"),
          metadata: { key_id: row.id, prefix: row.prefix, scopes, mode: row.mode },
        },
      ],
    });
    return c.json(
      {
        api_key: {
          id: row.id,
          key: generated.key,
          prefix: row.prefix,
          company_id: row.companyId,
          name: row.name,
          scopes,
          mode: row.mode,
          created_at: row.createdAt,
        },
      },
      201,
    );
  })
  .openapi(listApiKeys, async (c) => {
    const query = c.req.valid("query");
    const db = drizzle(c.env.DB);
    const company = await db
      .select({ id: companies.id })
      .from(companies)
      .where(eq(companies.id, query.company_id))
      .get();
    if (!company) throw new ApiError("not_found", {}, { message: "Company not found" });
    const filters: (SQL | undefined)[] = [eq(apiKeys.companyId, company.id)];
    if (query.cursor) filters.push(olderThan({ createdAt: apiKeys.createdAt, id: apiKeys.id }, query.cursor));
    // The columns named one by one: key_hash is never read here.
    const rows = await db
      .select({
        id: apiKeys.id,
        companyId: apiKeys.companyId,
        name: apiKeys.name,
        prefix: apiKeys.prefix,
        scopes: apiKeys.scopes,
        mode: apiKeys.mode,
        createdAt: apiKeys.createdAt,
        revokedAt: apiKeys.revokedAt,
      })
      .from(apiKeys)
      .where(and(...filters))
      .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
      .limit(query.limit + 1)
      .all();
    const { page, nextCursor } = pageOf(rows, query.limit);
    return c.json(
      {
        api_keys: page.map((row) => ({
          id: row.id,
          company_id: row.companyId,
          name: row.name,
          prefix: row.prefix,
          scopes: storedScopes(row.scopes),
          mode: row.mode,
          created_at: row.createdAt,
          revoked_at: row.revokedAt,
        })),
        next_cursor: nextCursor,
      },
      200,
    );
  })
  .openapi(revokeApiKeyRoute, async (c) => {
    const { id } = c.req.valid("param");
    const row = await drizzle(c.env.DB)
      .select({ companyId: apiKeys.companyId, keyHash: apiKeys.keyHash, revokedAt: apiKeys.revokedAt })
      .from(apiKeys)
      .where(eq(apiKeys.id, id))
      .get();
    if (!row) throw new ApiError("not_found", {}, { message: "API key not found" });
    if (row.revokedAt) return c.json({ api_key: { id, revoked_at: row.revokedAt } }, 200);
    const nowMs = Date.now();
    const revokedAt = isoTime(nowMs);
    await companyLedger(c.env, row.companyId).record(row.companyId, nowMs, {
      writes: [revokeApiKey(id, revokedAt)],
      events: [
        {
          type: EVENT.apiKeyRevoked,
          outcome: "success",
          actor: ADMIN_ACTOR,
          request_id: c.get("requestId"),
          metadata: { key_id: id },
        },
      ],
    });
    forgetKey(row.keyHash);
    return c.json({ api_key: { id, revoked_at: revokedAt } }, 200);
  });

/** A key's stored scopes (a JSON array), keeping only the scopes that exist. */
function storedScopes(json: string): Scope[] {
  const parsed: unknown = JSON.parse(json);
  return Array.isArray(parsed) ? parsed.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)) : [];
}
