import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { currentPolicy } from "../company/policy-cache";
import { canonicalIp, parseIp } from "../domain/risk/network";
import { ApiError } from "../errors";
import { requireScope } from "../http/api-key-auth";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/json-body";
import { SignalNameSchema } from "../http/risk-schemas";
import { API_KEY_CODES, BODY_CODES, ExternalIdSchema, errorResponses, plainText } from "../http/schemas";
import { defaultHook } from "../http/validation";
import { externalIdOf } from "../identity/directory";
import { identityGuard } from "../identity/guard";
import { ipWatch } from "../risk/ip-watch";

const SignalSchema = z.object({ name: SignalNameSchema, weight: z.number(), detail: z.string() }).openapi("RiskSignal");

/** What an assessment says: on 200, and on 403 `high_risk` when an enforcing policy denies. */
const ASSESSMENT_FIELDS = {
  risk_score: z.number(),
  recommendation: z.enum(["allow", "challenge", "deny"]),
  signals: z.array(SignalSchema),
  assessment_id: z.string(),
  policy_version: z.number().int(),
};

const ContextSchema = z.strictObject({
  ip: z
    .string()
    .max(64)
    .refine((text) => parseIp(text) !== null, "must be an IPv4 (four-part decimal) or IPv6 address"),
  ua: plainText(0, 1024).openapi({ description: "The end user's user agent; may be empty" }),
  user_id: ExternalIdSchema.optional().openapi({ description: "The platform's user id; a mismatch is a signal" }),
  country: z
    .string()
    .regex(/^[A-Z]{2}$/, "an ISO 3166-1 alpha-2 code, upper case")
    .optional(),
  asn: z.number().int().min(0).max(4_294_967_295).optional(),
  geo: z.strictObject({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) }).optional(),
});

const discover = createRoute({
  method: "post",
  path: "/discover",
  operationId: "assessRisk",
  tags: ["sentinel"],
  summary: "Assess the risk of a login or request, with the signals that explain it (sentinel:write)",
  security: [{ apiKey: [] }],
  middleware: [requireScope("sentinel:write"), jsonBody] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z.strictObject({
            sentinel: z.strictObject({
              id: plainText(1, 128).openapi({
                example: "idn_42c9d108cb9132d462da0f97ad8a6a0ecb43e0ada40c02213ecd731b89d81aa6",
              }),
              context: ContextSchema,
            }),
          }),
        },
      },
    },
  },
  responses: {
    200: {
      description: "Risk assessment completed.",
      content: {
        "application/json": {
          schema: z.object({ status: z.literal("authorized"), ...ASSESSMENT_FIELDS }),
        },
      },
    },
    // A deny under an enforcing policy: the same assessment, as the error's extra fields.
    ...errorResponses([...API_KEY_CODES, ...BODY_CODES, "not_found", "high_risk"], { high_risk: ASSESSMENT_FIELDS }),
  },
});

export const discoverRoutes = new OpenAPIHono<AppEnv>({ defaultHook }).openapi(discover, async (c) => {
  const { sentinel } = c.req.valid("json");
  const caller = c.get("caller");
  const nowMs = Date.now();
  const externalId = await externalIdOf(c.env, caller.companyId, sentinel.id);
  if (externalId === null) throw new ApiError("not_found", {}, { message: "Identity not found" });
  const ip = parseIp(sentinel.context.ip);
  if (!ip) throw new ApiError("invalid_request", { details: [{ path: "sentinel.context.ip", message: "invalid" }] });
  const [policy, ipState] = await Promise.all([
    currentPolicy(c.env, caller.companyId, nowMs),
    ipWatch(c.env, caller.companyId, canonicalIp(ip)).touch(sentinel.id, nowMs),
  ]);
  const result = await identityGuard(c.env, caller.companyId, externalId).assess(
    sentinel.id,
    sentinel.context,
    policy,
    ipState,
    nowMs,
    { actor: caller.keyId, requestId: c.get("requestId"), ip: canonicalIp(ip), userAgent: sentinel.context.ua },
  );
  if ("result" in result) throw new ApiError("not_found", {}, { message: "Identity not found" });
  const answer = {
    risk_score: result.risk_score,
    recommendation: result.recommendation,
    signals: result.signals,
    assessment_id: result.id,
    policy_version: result.policy_version,
  };
  // Monitor mode records a deny as such but never refuses.
  if (result.recommendation === "deny" && result.mode === "enforce") throw new ApiError("high_risk", answer);
  return c.json({ status: "authorized" as const, ...answer }, 200);
});
