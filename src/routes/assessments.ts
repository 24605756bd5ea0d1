import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, desc, eq, gte, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { olderThan, pageOf } from "../db/page-cursor";
import { assessments } from "../db/schema";
import { canonicalIp, parseIp } from "../domain/risk/network";
import { ApiError } from "../errors";
import { requireScope } from "../http/api-key-auth";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/json-body";
import { SignalNameSchema } from "../http/risk-schemas";
import { API_KEY_CODES, BODY_CODES, errorResponses, ISO_TIME, plainText } from "../http/schemas";
import { defaultHook } from "../http/validation";
import type { AssessmentContext } from "../identity/assessment";
import { externalIdOf } from "../identity/directory";
import { identityGuard } from "../identity/guard";
import { ipWatch } from "../risk/ip-watch";

const security = [{ apiKey: [] }];

const AssessmentSchema = z
  .object({
    id: z.string(),
    identity_id: z.string(),
    context: z.record(z.string(), z.unknown()),
    risk_score: z.number(),
    recommendation: z.enum(["allow", "challenge", "deny"]),
    signals: z.array(z.object({ name: SignalNameSchema, weight: z.number(), detail: z.string() })),
    policy_version: z.number().int(),
    feedback: z.object({ verdict: z.enum(["legitimate", "fraudulent"]), created_at: ISO_TIME }).nullable(),
    created_at: ISO_TIME,
  })
  .openapi("Assessment");

type Row = typeof assessments.$inferSelect;

function toWire(row: Row): z.infer<typeof AssessmentSchema> {
  return {
    id: row.id,
    identity_id: row.identityId,
    context: JSON.parse(row.context) as Record<string, unknown>,
    risk_score: row.riskScore,
    recommendation: row.recommendation,
    signals: JSON.parse(row.signals) as z.infer<typeof AssessmentSchema>["signals"],
    policy_version: row.policyVersion,
    feedback:
      row.feedbackVerdict && row.feedbackAt ? { verdict: row.feedbackVerdict, created_at: row.feedbackAt } : null,
    created_at: row.createdAt,
  };
}

const IdParams = z.object({ id: plainText(1, 64).openapi({ example: "asm_01hxyz" }) });

const readOne = createRoute({
  method: "get",
  path: "/assessments/{id}",
  operationId: "getAssessment",
  tags: ["sentinel"],
  summary: "A stored assessment with its context, signals and any feedback (sentinel:read)",
  security,
  middleware: [requireScope("sentinel:read")] as const,
  request: { params: IdParams },
  responses: {
    200: {
      description: "The assessment",
      content: { "application/json": { schema: z.object({ assessment: AssessmentSchema }) } },
    },
    ...errorResponses([...API_KEY_CODES, "not_found"]),
  },
});

const list = createRoute({
  method: "get",
  path: "/assessments",
  operationId: "listAssessments",
  tags: ["sentinel"],
  summary: "Assessments of the company, newest first (sentinel:read)",
  security,
  middleware: [requireScope("sentinel:read")] as const,
  request: {
    query: z.object({
      identity_id: plainText(1, 128).optional(),
      since: z.string().datetime({ offset: true }).optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
      cursor: plainText(1, 200).optional(),
    }),
  },
  responses: {
    200: {
      description: "A page of assessments",
      content: {
        "application/json": {
          schema: z.object({ assessments: z.array(AssessmentSchema), next_cursor: z.string().nullable() }),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES]),
  },
});

const feedback = createRoute({
  method: "post",
  path: "/assessments/{id}/feedback",
  operationId: "giveAssessmentFeedback",
  tags: ["sentinel"],
  summary: "Say whether an assessment was right: legitimate teaches, fraudulent marks (sentinel:write)",
  security,
  middleware: [requireScope("sentinel:write"), jsonBody] as const,
  request: {
    params: IdParams,
    body: {
      required: true,
      content: {
        "application/json": { schema: z.strictObject({ verdict: z.enum(["legitimate", "fraudulent"]) }) },
      },
    },
  },
  responses: {
    200: {
      description: "Recorded",
      content: {
        "application/json": {
          schema: z.object({
            feedback: z.object({
              assessment_id: z.string(),
              verdict: z.enum(["legitimate", "fraudulent"]),
              created_at: ISO_TIME,
            }),
          }),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES, ...BODY_CODES, "not_found"]),
  },
});

async function findAssessment(db: D1Database, companyId: string, id: string): Promise<Row> {
  const row = await drizzle(db)
    .select()
    .from(assessments)
    .where(and(eq(assessments.id, id), eq(assessments.companyId, companyId)))
    .get();
  if (!row) throw new ApiError("not_found", {}, { message: "Assessment not found" });
  return row;
}

export const assessmentRoutes = new OpenAPIHono<AppEnv>({ defaultHook })
  .openapi(readOne, async (c) => {
    const row = await findAssessment(c.env.DB, c.get("caller").companyId, c.req.valid("param").id);
    return c.json({ assessment: toWire(row) }, 200);
  })
  .openapi(list, async (c) => {
    const query = c.req.valid("query");
    const filters: (SQL | undefined)[] = [eq(assessments.companyId, c.get("caller").companyId)];
    if (query.identity_id) filters.push(eq(assessments.identityId, query.identity_id));
    if (query.since) filters.push(gte(assessments.createdAt, new Date(query.since).toISOString()));
    if (query.cursor) filters.push(olderThan({ createdAt: assessments.createdAt, id: assessments.id }, query.cursor));
    const rows = await drizzle(c.env.DB)
      .select()
      .from(assessments)
      .where(and(...filters))
      .orderBy(desc(assessments.createdAt), desc(assessments.id))
      .limit(query.limit + 1)
      .all();
    const { page, nextCursor } = pageOf(rows, query.limit);
    return c.json({ assessments: page.map(toWire), next_cursor: nextCursor }, 200);
  })
  .openapi(feedback, async (c) => {
    const { id } = c.req.valid("param");
    const { verdict } = c.req.valid("json");
    const caller = c.get("caller");
    const nowMs = Date.now();
    const row = await findAssessment(c.env.DB, caller.companyId, id);
    const context = JSON.parse(row.context) as AssessmentContext;
    const externalId = await externalIdOf(c.env, caller.companyId, row.identityId);
    if (externalId === null) throw new ApiError("not_found", {}, { message: "Assessment not found" });
    const ip = parseIp(context.ip);
    if (verdict === "fraudulent" && ip) await ipWatch(c.env, caller.companyId, canonicalIp(ip)).markFraudulent(nowMs);
    const result = await identityGuard(c.env, caller.companyId, externalId).feedback(
      row.identityId,
      id,
      verdict,
      context,
      nowMs,
      { actor: caller.keyId, requestId: c.get("requestId") },
    );
    if (result.result !== "recorded") throw new ApiError("not_found", {}, { message: "Assessment not found" });
    return c.json({ feedback: { assessment_id: id, verdict, created_at: new Date(nowMs).toISOString() } }, 200);
  });
