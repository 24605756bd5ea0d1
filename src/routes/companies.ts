import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { desc } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { companyLedger } from "../company/ledger";
import { olderThan, pageOf } from "../db/page-cursor";
import { companies } from "../db/schema";
import { insertCompany } from "../db/writes";
import { ADMIN_ACTOR, EVENT } from "../domain/audit-events";
import { isoTime, newId } from "../domain/ids";
import { requireAdmin } from "../http/admin-auth";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/json-body";
import { BODY_CODES, errorResponses, ISO_TIME, plainText } from "../http/schemas";
import { defaultHook } from "../http/validation";

const security = [{ adminToken: [] }];

const CompanySchema = z.object({ id: z.string(), name: z.string(), created_at: ISO_TIME }).openapi("Company");
const createCompany = createRoute({
  method: "post",
  path: "/companies",
  operationId: "createCompany",
  tags: ["admin"],
  summary: "Create a company (a tenant)",
  security,
  middleware: [requireAdmin, jsonBody] as const,
  request: {
    body: {
      required: true,
      content: { "application/json": { schema: z.strictObject({ name: plainText(1, 200) }) } },
    },
  },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: z.object({ company: CompanySchema }) } } },
    ...errorResponses([...BODY_CODES, "not_found"]),
  },
});

const listCompanies = createRoute({
  method: "get",
  path: "/companies",
  operationId: "listCompanies",
  tags: ["admin"],
  summary: "The companies, newest first",
  security,
  middleware: [requireAdmin] as const,
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: plainText(1, 200).optional(),
    }),
  },
  responses: {
    200: {
      description: "A page of companies",
      content: {
        "application/json": {
          schema: z.object({ companies: z.array(CompanySchema), next_cursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses(["not_found"]),
  },
});

export const companyRoutes = new OpenAPIHono<AppEnv>({ defaultHook })
  .openapi(createCompany, async (c) => {
    const { name } = c.req.valid("json");
    const nowMs = Date.now();
    const company = { id: newId("cmp", nowMs), name, created_at: isoTime(nowMs) };
    await companyLedger(c.env, company.id).record(company.id, nowMs, {
      writes: [insertCompany(company)],
      events: [
        {
          type: EVENT.companyCreated,
          outcome: "success",
          actor: ADMIN_ACTOR,
          request_id: c.get("requestId"),
          metadata: { name },
        },
      ],
    });
    return c.json({ company }, 201);
  })
  .openapi(listCompanies, async (c) => {
    const query = c.req.valid("query");
    const rows = await drizzle(c.env.DB)
      .select()
      .from(companies)
      .where(query.cursor ? olderThan({ createdAt: companies.createdAt, id: companies.id }, query.cursor) : undefined)
      .orderBy(desc(companies.createdAt), desc(companies.id))
      .limit(query.limit + 1)
      .all();
    const { page, nextCursor } = pageOf(rows, query.limit);
    return c.json(
      {
        companies: page.map((row) => ({ id: row.id, name: row.name, created_at: row.createdAt })),
        next_cursor: nextCursor,
      },
      200,
    );
  });
