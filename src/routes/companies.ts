import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { companyLedger } from "../company/ledger";
import { insertCompany } from "../db/writes";
import { EVENT } from "../domain/audit-events";
import { isoTime, newId } from "../domain/ids";
import { requireAdmin } from "../http/admin-auth";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/json-body";
import { BODY_CODES, errorResponses, ISO_TIME, plainText } from "../http/schemas";
import { defaultHook } from "../http/validation";

/** Admin routes take the ADMIN_TOKEN; what they do is recorded as the actor "admin". */
const ADMIN_ACTOR = "admin";
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

export const companyRoutes = new OpenAPIHono<AppEnv>({ defaultHook }).openapi(createCompany, async (c) => {
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
});
