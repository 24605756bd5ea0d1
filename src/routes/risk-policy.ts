import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { companyLedger } from "../company/ledger";
import { currentPolicy, rememberPolicy } from "../company/policy-cache";
import { ApiError } from "../errors";
import { requireScope } from "../http/api-key-auth";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/json-body";
import { PolicyChangeSchema, RiskPolicySchema } from "../http/risk-schemas";
import { API_KEY_CODES, BODY_CODES, errorResponses } from "../http/schemas";
import { defaultHook } from "../http/validation";

const security = [{ apiKey: [] }];
const PolicyResponse = { "application/json": { schema: z.object({ policy: RiskPolicySchema }) } };

const read = createRoute({
  method: "get",
  path: "/policy",
  operationId: "getRiskPolicy",
  tags: ["sentinel"],
  summary: "The company's Sentinel policy (sentinel:read)",
  security,
  middleware: [requireScope("sentinel:read")] as const,
  responses: { 200: { description: "The policy", content: PolicyResponse }, ...errorResponses([...API_KEY_CODES]) },
});

const update = createRoute({
  method: "put",
  path: "/policy",
  operationId: "updateRiskPolicy",
  tags: ["sentinel"],
  summary: "Change the fields given; bumps the version; applies everywhere within 5 s (sentinel:write)",
  security,
  middleware: [requireScope("sentinel:write"), jsonBody] as const,
  request: { body: { required: true, content: { "application/json": { schema: PolicyChangeSchema } } } },
  responses: {
    200: { description: "The whole policy after the change", content: PolicyResponse },
    ...errorResponses([...API_KEY_CODES, ...BODY_CODES]),
  },
});

export const riskPolicyRoutes = new OpenAPIHono<AppEnv>({ defaultHook })
  .openapi(read, async (c) => {
    const policy = await currentPolicy(c.env, c.get("caller").companyId, Date.now());
    return c.json({ policy }, 200);
  })
  .openapi(update, async (c) => {
    const change = c.req.valid("json");
    const caller = c.get("caller");
    const nowMs = Date.now();
    const result = await companyLedger(c.env, caller.companyId).updateRiskPolicy(caller.companyId, change, nowMs, {
      actor: caller.keyId,
      requestId: c.get("requestId"),
    });
    if (!result.ok)
      throw new ApiError("invalid_request", { details: [{ path: result.path, message: result.message }] });
    rememberPolicy(caller.companyId, result.policy, nowMs);
    return c.json({ policy: result.policy }, 200);
  });
