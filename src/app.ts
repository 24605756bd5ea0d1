import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { newId } from "./domain/ids";
import { ApiError, errorResponse } from "./errors";
import { urlBoundary } from "./http/boundary";
import type { AppEnv } from "./http/context";
import { errorResponses } from "./http/schemas";
import { defaultHook } from "./http/validation";
import { apiKeyRoutes } from "./routes/api-keys";
import { assessmentRoutes } from "./routes/assessments";
import { auditRoutes } from "./routes/audit";
import { backupCodeRoutes } from "./routes/backup-codes";
import { companyRoutes } from "./routes/companies";
import { connectorRoutes } from "./routes/connectors";
import { discoverRoutes } from "./routes/discover";
import { identityRoutes } from "./routes/identities";
import { identityActionRoutes } from "./routes/identity-actions";
import { incidentRoutes } from "./routes/incidents";
import { keyRoutes } from "./routes/keys";
import { otpRoutes } from "./routes/otp";
import { outboxRoutes } from "./routes/outbox";
import { riskPolicyRoutes } from "./routes/risk-policy";
import { sessionRoutes } from "./routes/sessions";

const health = createRoute({
  method: "get",
  path: "/v1/health",
  operationId: "getHealth",
  tags: ["service"],
  summary: "Liveness (no auth)",
  security: [],
  responses: {
    200: {
      description: "The service answers",
      content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
    },
    ...errorResponses([]),
  },
});

const openapiDocument = createRoute({
  method: "get",
  path: "/v1/openapi.json",
  operationId: "getOpenApiDocument",
  tags: ["service"],
  summary: "This OpenAPI 3.1 document, generated from the schemas that validate requests (no auth)",
  security: [],
  responses: {
    200: {
      description: "The document",
      content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
    },
    ...errorResponses([]),
  },
});

/** Maps what Hono itself throws (its validators, body parsing) onto our error codes. */
function fromHttpException(error: HTTPException): ApiError {
  switch (error.status) {
    case 400:
      return new ApiError("invalid_json");
    case 413:
      return new ApiError("payload_too_large");
    case 415:
      return new ApiError("unsupported_media_type");
    default:
      return new ApiError("invalid_request", { details: [] }, { message: error.message || "Invalid request" });
  }
}

export function buildApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook });

  app.use("*", async (c, next) => {
    c.set("requestId", newId("req", Date.now()));
    await next();
    c.res.headers.set("X-Request-Id", c.get("requestId"));
    c.res.headers.set("Cache-Control", "no-store");
  });
  app.use("*", urlBoundary);

  app.openapi(health, (c) => c.json({ status: "ok" as const }, 200));
  app.route("/v1/admin", companyRoutes);
  app.route("/v1/admin", apiKeyRoutes);
  app.route("/v1/admin", outboxRoutes);
  app.route("/v1/admin", keyRoutes);
  app.route("/v1/idp", identityRoutes);
  app.route("/v1/idp", otpRoutes);
  app.route("/v1/idp", backupCodeRoutes);
  app.route("/v1/idp", sessionRoutes);
  app.route("/v1/sentinel", identityActionRoutes);
  app.route("/v1/sentinel", incidentRoutes);
  app.route("/v1/sentinel", riskPolicyRoutes);
  app.route("/v1/sentinel", discoverRoutes);
  app.route("/v1/sentinel", assessmentRoutes);
  app.route("/v1/sentinel", connectorRoutes);
  app.route("/v1/audit", auditRoutes);

  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description: "An API key: hld_live_… or hld_test_…",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "adminToken", {
    type: "http",
    scheme: "bearer",
    description: "The ADMIN_TOKEN Worker secret",
  });
  app.openapi(openapiDocument, (c) =>
    c.json(
      app.getOpenAPI31Document({
        openapi: "3.1.0",
        info: {
          title: "HLD Identity Provider API",
          version: "1.0.0",
          description:
            "Managed identities, TOTP MFA, backup codes, revocable sessions, Sentinel risk and a tamper-evident audit trail.",
        },
        servers: [
          {
            url: "https://{host}",
            description: "Your deployment (npm run deploy prints its workers.dev host)",
            variables: { host: { default: "hld-identity.your-subdomain.workers.dev" } },
          },
        ],
      }) as unknown as Record<string, unknown>,
      200,
    ),
  );

  app.notFound((c) => errorResponse(new ApiError("not_found"), c.get("requestId")));

  app.onError((error, c) => {
    const requestId = c.get("requestId") ?? newId("req", Date.now());
    if (error instanceof ApiError) return errorResponse(error, requestId);
    if (error instanceof HTTPException) return errorResponse(fromHttpException(error), requestId);
    // Unexpected: the reason goes to the log with the request id, never to the wire.
    console.error(JSON.stringify({ level: "error", request_id: requestId, error: String(error) }));
    return errorResponse(new ApiError("internal_error"), requestId);
  });

  return app;
}
