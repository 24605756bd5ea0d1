import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { d1Meter, unmeteredD1 } from "../db/meter";
import { ApiError } from "../errors";
import { requireAdmin } from "../http/admin-auth";
import type { AppEnv } from "../http/context";
import { errorResponses, ISO_TIME } from "../http/schemas";
import { defaultHook } from "../http/validation";
import { deadLetterSummary, replayDeadLetter } from "../ledger/dead-letters";

const security = [{ adminToken: [] }];

const DeadLetterSchema = z
  .object({
    id: z.string(),
    source: z.string().nullable().openapi({ description: "The object whose writes these are (an identity id)." }),
    after: z.number().int().nullable(),
    through: z.number().int().nullable(),
    attempts: z.number().int(),
    recorded_at: ISO_TIME,
    later_writes_released: z
      .boolean()
      .openapi({ description: "Whether the object's later writes went on to D1 without waiting for this one." }),
    replayed_at: ISO_TIME.nullable(),
  })
  .openapi("DeadLetter");

const OutboxReportSchema = z
  .object({
    dead_letters: z.object({
      count: z.number().int(),
      pending: z.number().int().openapi({ description: "Dead letters not replayed yet." }),
      latest: z.array(DeadLetterSchema),
    }),
    d1: z.object({
      statements: z.number().int(),
      batches: z.number().int(),
      since: ISO_TIME,
      scope: z.literal("isolate"),
    }),
  })
  .openapi("OutboxReport");

const report = createRoute({
  method: "get",
  path: "/outbox",
  operationId: "getOutboxReport",
  tags: ["admin"],
  summary: "The D1 writes pipeline: dead letters and the D1 statements counted by this isolate",
  security,
  middleware: [requireAdmin] as const,
  responses: {
    200: { description: "OK", content: { "application/json": { schema: OutboxReportSchema } } },
    ...errorResponses(["not_found"]),
  },
});

const replay = createRoute({
  method: "post",
  path: "/outbox/dead-letters/{id}/replay",
  operationId: "replayDeadLetter",
  tags: ["admin"],
  summary: "Apply a dead letter's writes to D1 (once its cause is fixed)",
  security,
  middleware: [requireAdmin] as const,
  request: { params: z.object({ id: z.string().min(1).max(200) }) },
  responses: {
    200: {
      description: "Applied",
      content: {
        "application/json": { schema: z.object({ replayed_at: ISO_TIME, rows: z.number().int() }) },
      },
    },
    ...errorResponses(["not_found", "dead_letter_unreadable"]),
  },
});

export const outboxRoutes = new OpenAPIHono<AppEnv>({ defaultHook })
  .openapi(report, async (c) => {
    // Read apart from the meter, so polling this report does not move the count it reports.
    const deadLetters = await deadLetterSummary(unmeteredD1(c.env.DB));
    return c.json({ dead_letters: deadLetters, d1: { ...d1Meter(), scope: "isolate" as const } }, 200);
  })
  .openapi(replay, async (c) => {
    const result = await replayDeadLetter(c.env.DB, c.req.valid("param").id, Date.now());
    if (result === "not_found") throw new ApiError("not_found", {}, { message: "Dead letter not found" });
    if (result === "unreadable") throw new ApiError("dead_letter_unreadable");
    return c.json(result, 200);
  });
