import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, asc, desc, eq, gte, isNull, lte, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { eventOfRow, verifyCompanyChains } from "../audit/verify-chains";
import { olderThan, pageOf } from "../db/page-cursor";
import { auditEvents, auditRollups } from "../db/schema";
import type { AuditEvent } from "../domain/audit-chain";
import { requireScope } from "../http/api-key-auth";
import type { AppEnv } from "../http/context";
import { API_KEY_CODES, errorResponses, ISO_TIME, plainText } from "../http/schemas";
import { defaultHook } from "../http/validation";

const security = [{ apiKey: [] }];

const isoDateTime = z.string().datetime({ offset: true });

export const AuditEventSchema = z
  .object({
    id: z.string(),
    company_id: z.string(),
    identity_id: z.string().nullable(),
    type: z.string(),
    outcome: z.string(),
    actor: z.string().nullable(),
    ip: z.string().nullable(),
    reason: z.string().nullable(),
    incident_id: z.string().nullable(),
    request_id: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()),
    created_at: ISO_TIME,
    chain_id: z.string(),
    seq: z.number().int(),
    content_hash: z.string(),
    prev_hash: z.string(),
    hash: z.string(),
  })
  .openapi("AuditEvent");

const listEvents = createRoute({
  method: "get",
  path: "/events",
  operationId: "listAuditEvents",
  tags: ["audit"],
  summary: "Audit events of the caller's company, newest first (audit:read)",
  security,
  middleware: [requireScope("audit:read")] as const,
  request: {
    query: z.object({
      identity_id: plainText(1, 128).optional(),
      type: plainText(1, 64).optional(),
      since: isoDateTime.optional(),
      until: isoDateTime.optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: plainText(1, 200).optional(),
    }),
  },
  responses: {
    200: {
      description: "A page of events",
      content: {
        "application/json": {
          schema: z.object({ events: z.array(AuditEventSchema), next_cursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES]),
  },
});

const ChainBreakSchema = z.object({
  event_id: z.string(),
  reason: z.enum(["hash_mismatch", "broken_link", "missing_event", "invalid_compaction"]),
});

/** How many broken events `GET /v1/audit/verify` lists; it counts them all. */
const BROKEN_EVENTS_LISTED = 100;

const verifyChains = createRoute({
  method: "get",
  path: "/verify",
  operationId: "verifyAuditChains",
  tags: ["audit"],
  summary: "Recompute every hash chain of the company and report every broken event (audit:read)",
  description:
    "Walks every chain to its end: after a broken event it goes on from what is stored, so one break hides no other. " +
    `\`broken\` is the first broken event, \`broken_events\` the first ${BROKEN_EVENTS_LISTED}, \`broken_count\` all of them.`,
  security,
  middleware: [requireScope("audit:read")] as const,
  responses: {
    200: {
      description: "Verification result",
      content: {
        "application/json": {
          schema: z.object({
            ok: z.boolean(),
            checked: z.number().int(),
            broken: ChainBreakSchema.nullable(),
            broken_count: z.number().int(),
            broken_events: z.array(ChainBreakSchema),
          }),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES]),
  },
});

const isoDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "expected YYYY-MM-DD");

const listRollups = createRoute({
  method: "get",
  path: "/rollups",
  operationId: "listAuditRollups",
  tags: ["audit"],
  summary: "Daily counts of routine events compacted after AUDIT_RETENTION_DAYS (audit:read)",
  security,
  middleware: [requireScope("audit:read")] as const,
  request: {
    query: z.object({
      identity_id: plainText(1, 128).optional(),
      since: isoDay.optional(),
      until: isoDay.optional(),
    }),
  },
  responses: {
    200: {
      description: "Rollups, by day then identity",
      content: {
        "application/json": {
          schema: z.object({
            rollups: z.array(
              z.object({
                day: z.string(),
                identity_id: z.string().nullable(),
                type: z.string(),
                outcome: z.string(),
                count: z.number().int(),
              }),
            ),
          }),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES]),
  },
});

/** An event on the wire: the stored event with its metadata parsed, without compaction's bookkeeping. */
function toWire(event: AuditEvent): z.infer<typeof AuditEventSchema> {
  const { compacted_at: _compacted, metadata, ...rest } = event;
  return { ...rest, metadata: JSON.parse(metadata) as Record<string, unknown> };
}

export const auditRoutes = new OpenAPIHono<AppEnv>({ defaultHook })
  .openapi(listEvents, async (c) => {
    const query = c.req.valid("query");
    const { companyId } = c.get("caller");
    // Compacted routine events live on only as hashes (for the chains) and in the rollups.
    const filters: (SQL | undefined)[] = [eq(auditEvents.companyId, companyId), isNull(auditEvents.compactedAt)];
    if (query.identity_id) filters.push(eq(auditEvents.identityId, query.identity_id));
    if (query.type) filters.push(eq(auditEvents.type, query.type));
    if (query.since) filters.push(gte(auditEvents.createdAt, new Date(query.since).toISOString()));
    if (query.until) filters.push(lte(auditEvents.createdAt, new Date(query.until).toISOString()));
    if (query.cursor) filters.push(olderThan({ createdAt: auditEvents.createdAt, id: auditEvents.id }, query.cursor));
    const rows = await drizzle(c.env.DB)
      .select()
      .from(auditEvents)
      .where(and(...filters))
      .orderBy(desc(auditEvents.createdAt), desc(auditEvents.id))
      .limit(query.limit + 1)
      .all();
    const { page, nextCursor } = pageOf(rows, query.limit);
    return c.json({ events: page.map((row) => toWire(eventOfRow(row))), next_cursor: nextCursor }, 200);
  })
  .openapi(verifyChains, async (c) => {
    const { companyId } = c.get("caller");
    const audit = await verifyCompanyChains(c.env.DB, companyId, BROKEN_EVENTS_LISTED);
    return c.json(
      {
        ok: audit.brokenCount === 0,
        checked: audit.checked,
        broken: audit.broken[0] ?? null,
        broken_count: audit.brokenCount,
        broken_events: audit.broken,
      },
      200,
    );
  })
  .openapi(listRollups, async (c) => {
    const query = c.req.valid("query");
    const { companyId } = c.get("caller");
    const filters: (SQL | undefined)[] = [eq(auditRollups.companyId, companyId)];
    if (query.identity_id) filters.push(eq(auditRollups.identityId, query.identity_id));
    if (query.since) filters.push(gte(auditRollups.day, query.since));
    if (query.until) filters.push(lte(auditRollups.day, query.until));
    const rows = await drizzle(c.env.DB)
      .select()
      .from(auditRollups)
      .where(and(...filters))
      .orderBy(asc(auditRollups.day), asc(auditRollups.identityId), asc(auditRollups.type))
      .limit(1000)
      .all();
    return c.json(
      {
        rollups: rows.map((row) => ({
          day: row.day,
          identity_id: row.identityId === "" ? null : row.identityId,
          type: row.type,
          outcome: row.outcome,
          count: row.count,
        })),
      },
      200,
    );
  });
