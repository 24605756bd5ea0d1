import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { companyLedger, type IncidentRecord } from "../company/ledger";
import { deliveriesOf } from "../connectors/store";
import { olderThan, pageOf } from "../db/page-cursor";
import { identityActions, incidents } from "../db/schema";
import { isoTime, newId } from "../domain/ids";
import { ApiError } from "../errors";
import { ActionSchema, actionToWire } from "../http/action-schema";
import { requireScope } from "../http/api-key-auth";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/json-body";
import { API_KEY_CODES, BODY_CODES, errorResponses, ISO_TIME, plainText } from "../http/schemas";
import { defaultHook } from "../http/validation";

const security = [{ apiKey: [] }];
const SEVERITIES = ["low", "medium", "high", "critical"] as const;
const STATUSES = ["open", "closed"] as const;

const IncidentSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    severity: z.enum(SEVERITIES),
    status: z.enum(STATUSES),
    created_by: z.string(),
    created_at: ISO_TIME,
    closed_at: ISO_TIME.nullable(),
  })
  .openapi("Incident");

const IncidentParams = z.object({ id: plainText(1, 128) });

const create = createRoute({
  method: "post",
  path: "/incidents",
  operationId: "openIncident",
  tags: ["sentinel"],
  summary: "Open an incident that identity actions can be associated with (sentinel:write)",
  security,
  middleware: [requireScope("sentinel:write"), jsonBody] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z.strictObject({ title: plainText(1, 200), severity: z.enum(SEVERITIES).default("medium") }),
        },
      },
    },
  },
  responses: {
    201: { description: "Opened", content: { "application/json": { schema: z.object({ incident: IncidentSchema }) } } },
    ...errorResponses([...API_KEY_CODES, ...BODY_CODES]),
  },
});

const list = createRoute({
  method: "get",
  path: "/incidents",
  operationId: "listIncidents",
  tags: ["sentinel"],
  summary: "Incidents of the company, newest first, without their actions (sentinel:read)",
  security,
  middleware: [requireScope("sentinel:read")] as const,
  request: {
    query: z.object({
      status: z
        .enum(STATUSES)
        .optional()
        .openapi({ description: "Only open or only closed incidents; both when absent" }),
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: plainText(1, 200).optional(),
    }),
  },
  responses: {
    200: {
      description: "A page of incidents",
      content: {
        "application/json": {
          schema: z.object({ incidents: z.array(IncidentSchema), next_cursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES]),
  },
});

const read = createRoute({
  method: "get",
  path: "/incidents/{id}",
  operationId: "getIncident",
  tags: ["sentinel"],
  summary: "An incident with its actions, newest first (sentinel:read)",
  security,
  middleware: [requireScope("sentinel:read")] as const,
  request: { params: IncidentParams },
  responses: {
    200: {
      description: "The incident",
      content: {
        "application/json": {
          schema: z.object({ incident: IncidentSchema.extend({ actions: z.array(ActionSchema) }) }),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES, "not_found"]),
  },
});

const close = createRoute({
  method: "post",
  path: "/incidents/{id}/close",
  operationId: "closeIncident",
  tags: ["sentinel"],
  summary: "Close an incident; actions can no longer be associated with it (sentinel:write)",
  security,
  middleware: [requireScope("sentinel:write"), jsonBody] as const,
  request: {
    params: IncidentParams,
    body: { required: false, content: { "application/json": { schema: z.strictObject({}) } } },
  },
  responses: {
    200: { description: "Closed", content: { "application/json": { schema: z.object({ incident: IncidentSchema }) } } },
    ...errorResponses([...API_KEY_CODES, ...BODY_CODES, "not_found"]),
  },
});

type IncidentRow = typeof incidents.$inferSelect;

function toWire(row: IncidentRow): z.infer<typeof IncidentSchema> {
  return {
    id: row.id,
    title: row.title,
    severity: row.severity,
    status: row.status,
    created_by: row.createdBy,
    created_at: row.createdAt,
    closed_at: row.closedAt,
  };
}

async function findIncident(db: D1Database, companyId: string, id: string): Promise<IncidentRow | undefined> {
  return drizzle(db)
    .select()
    .from(incidents)
    .where(and(eq(incidents.id, id), eq(incidents.companyId, companyId)))
    .get();
}

export const incidentRoutes = new OpenAPIHono<AppEnv>({ defaultHook })
  .openapi(create, async (c) => {
    const body = c.req.valid("json");
    const caller = c.get("caller");
    const nowMs = Date.now();
    const incident: IncidentRecord = {
      id: newId("inc", nowMs),
      title: body.title,
      severity: body.severity,
      status: "open",
      created_by: caller.keyId,
      created_at: isoTime(nowMs),
      closed_at: null,
    };
    await companyLedger(c.env, caller.companyId).openIncident(caller.companyId, incident, nowMs, {
      actor: caller.keyId,
      requestId: c.get("requestId"),
    });
    return c.json({ incident }, 201);
  })
  .openapi(list, async (c) => {
    const query = c.req.valid("query");
    const filters: (SQL | undefined)[] = [eq(incidents.companyId, c.get("caller").companyId)];
    if (query.status) filters.push(eq(incidents.status, query.status));
    if (query.cursor) filters.push(olderThan({ createdAt: incidents.createdAt, id: incidents.id }, query.cursor));
    const rows = await drizzle(c.env.DB)
      .select()
      .from(incidents)
      .where(and(...filters))
      .orderBy(desc(incidents.createdAt), desc(incidents.id))
      .limit(query.limit + 1)
      .all();
    const { page, nextCursor } = pageOf(rows, query.limit);
    return c.json({ incidents: page.map(toWire), next_cursor: nextCursor }, 200);
  })
  .openapi(read, async (c) => {
    const { id } = c.req.valid("param");
    const { companyId } = c.get("caller");
    const incident = await findIncident(c.env.DB, companyId, id);
    if (!incident) throw new ApiError("not_found", {}, { message: "Incident not found" });
    const actions = await drizzle(c.env.DB)
      .select()
      .from(identityActions)
      .where(and(eq(identityActions.companyId, companyId), eq(identityActions.incidentId, id)))
      .orderBy(desc(identityActions.createdAt), desc(identityActions.id))
      .all();
    const deliveries = await deliveriesOf(
      c.env.DB,
      incident.companyId,
      actions.map((a) => a.id),
    );
    return c.json({ incident: { ...toWire(incident), actions: actions.map((a) => actionToWire(a, deliveries)) } }, 200);
  })
  .openapi(close, async (c) => {
    const { id } = c.req.valid("param");
    const caller = c.get("caller");
    const incident = await companyLedger(c.env, caller.companyId).closeIncident(caller.companyId, id, Date.now(), {
      actor: caller.keyId,
      requestId: c.get("requestId"),
    });
    if (!incident) throw new ApiError("not_found", {}, { message: "Incident not found" });
    return c.json({ incident }, 200);
  });
