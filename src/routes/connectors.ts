import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { companyLedger } from "../company/ledger";
import { intSetting } from "../config/settings";
import { PROVIDER_TIMEOUT_MS } from "../connectors/consumer";
import { type ConnectorCredentials, testConnector } from "../connectors/deliver";
import { DEFAULT_URLS } from "../connectors/providers";
import {
  type ConnectorRow,
  connectorToWire,
  findConnector,
  listConnectors,
  openConnector,
  recentFailures,
  sealCredentials,
} from "../connectors/store";
import { deleteConnector, insertConnector, upsertConnectorLink } from "../db/connector-writes";
import { EVENT } from "../domain/audit-events";
import { isoTime, newId } from "../domain/ids";
import { ApiError } from "../errors";
import { requireScope } from "../http/api-key-auth";
import {
  ConnectorParams,
  ConnectorSchema,
  CreateConnectorBody,
  checkedUrl,
  checkPrivateKey,
  DeliveryFailureSchema,
  LinkParams,
} from "../http/connector-schemas";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/json-body";
import { API_KEY_CODES, BODY_CODES, errorResponses, ISO_TIME, plainText } from "../http/schemas";
import { defaultHook } from "../http/validation";
import { externalIdOf } from "../identity/directory";

const security = [{ apiKey: [] }];

const create = createRoute({
  method: "post",
  path: "/connectors",
  operationId: "createConnector",
  tags: ["connectors"],
  summary: "Connect an identity provider that disable, enable and revoke-sessions are carried to (sentinel:write)",
  security,
  middleware: [requireScope("sentinel:write"), jsonBody] as const,
  request: { body: { required: true, content: { "application/json": { schema: CreateConnectorBody } } } },
  responses: {
    201: {
      description: "Connected; the credentials are sealed and never shown again",
      content: { "application/json": { schema: z.object({ connector: ConnectorSchema }) } },
    },
    ...errorResponses([...API_KEY_CODES, ...BODY_CODES]),
  },
});

const list = createRoute({
  method: "get",
  path: "/connectors",
  operationId: "listConnectors",
  tags: ["connectors"],
  summary: "The company's connectors (sentinel:read)",
  security,
  middleware: [requireScope("sentinel:read")] as const,
  responses: {
    200: {
      description: "The connectors, oldest first",
      content: { "application/json": { schema: z.object({ connectors: z.array(ConnectorSchema) }) } },
    },
    ...errorResponses([...API_KEY_CODES]),
  },
});

const read = createRoute({
  method: "get",
  path: "/connectors/{id}",
  operationId: "getConnector",
  tags: ["connectors"],
  summary: "A connector with its recent delivery failures (sentinel:read)",
  security,
  middleware: [requireScope("sentinel:read")] as const,
  request: { params: ConnectorParams },
  responses: {
    200: {
      description: "The connector",
      content: {
        "application/json": {
          schema: z.object({ connector: ConnectorSchema.extend({ recent_failures: z.array(DeliveryFailureSchema) }) }),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES, "not_found"]),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/connectors/{id}",
  operationId: "deleteConnector",
  tags: ["connectors"],
  summary: "Disconnect: later actions are not carried to it; pending deliveries fail (sentinel:write)",
  security,
  middleware: [requireScope("sentinel:write")] as const,
  request: { params: ConnectorParams },
  responses: {
    200: {
      description: "Deleted",
      content: {
        "application/json": { schema: z.object({ connector: ConnectorSchema.extend({ deleted_at: ISO_TIME }) }) },
      },
    },
    ...errorResponses([...API_KEY_CODES, "not_found"]),
  },
});

const check = createRoute({
  method: "post",
  path: "/connectors/{id}/test",
  operationId: "testConnector",
  tags: ["connectors"],
  summary:
    "Check the credentials: get a token (and for Okta, read one user); answers what the provider said (sentinel:write)",
  security,
  middleware: [requireScope("sentinel:write")] as const,
  request: { params: ConnectorParams },
  responses: {
    200: {
      description: "What the provider said",
      content: { "application/json": { schema: z.object({ ok: z.boolean(), detail: z.string() }) } },
    },
    ...errorResponses([...API_KEY_CODES, "not_found"]),
  },
});

const link = createRoute({
  method: "put",
  path: "/identity/{userId}/links/{connectorId}",
  operationId: "linkIdentityToConnector",
  tags: ["connectors"],
  summary: "The provider's user key for this identity, where it is not the external_id (sentinel:write)",
  security,
  middleware: [requireScope("sentinel:write"), jsonBody] as const,
  request: {
    params: LinkParams,
    body: {
      required: true,
      content: { "application/json": { schema: z.strictObject({ provider_user_id: plainText(1, 255) }) } },
    },
  },
  responses: {
    200: {
      description: "Linked",
      content: {
        "application/json": {
          schema: z.object({
            link: z.object({
              identity_id: z.string(),
              connector_id: z.string(),
              provider_user_id: z.string(),
              updated_at: ISO_TIME,
            }),
          }),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES, ...BODY_CODES, "not_found"]),
  },
});

const notFound = () => new ApiError("not_found", {}, { message: "Connector not found" });

export const connectorRoutes = new OpenAPIHono<AppEnv>({ defaultHook })
  .openapi(create, async (c) => {
    const body = c.req.valid("json");
    const caller = c.get("caller");
    const nowMs = Date.now();
    const defaults = DEFAULT_URLS[body.type];
    const allowHttp = c.env.ALLOW_HTTP_CONNECTOR_URLS === "true";
    const baseUrl = checkedUrl(allowHttp, body.base_url ?? defaults.baseUrl ?? "", "base_url");
    const tokenValue = "token_url" in body ? (body.token_url ?? defaults.tokenUrl) : defaults.tokenUrl;
    const tokenUrl = tokenValue === null ? null : checkedUrl(allowHttp, tokenValue, "token_url");
    if (body.type === "google_workspace")
      await checkPrivateKey(body.credentials.private_key, "credentials.private_key");
    const id = newId("con", nowMs);
    const row: ConnectorRow = {
      id,
      company_id: caller.companyId,
      type: body.type,
      name: body.name,
      base_url: baseUrl,
      token_url: tokenUrl,
      credentials: await sealCredentials(c.env, id, body.credentials as ConnectorCredentials),
      created_at: isoTime(nowMs),
      deleted_at: null,
    };
    await companyLedger(c.env, caller.companyId).record(caller.companyId, nowMs, {
      writes: [insertConnector(row)],
      events: [
        {
          type: EVENT.connectorCreated,
          outcome: "success",
          actor: caller.keyId,
          request_id: c.get("requestId"),
          metadata: { connector_id: id, type: row.type, name: row.name, base_url: baseUrl, token_url: tokenUrl },
        },
      ],
    });
    return c.json({ connector: connectorToWire(row) }, 201);
  })
  .openapi(list, async (c) => {
    const rows = await listConnectors(c.env.DB, c.get("caller").companyId);
    return c.json({ connectors: rows.map(connectorToWire) }, 200);
  })
  .openapi(read, async (c) => {
    const { companyId } = c.get("caller");
    const row = await findConnector(c.env.DB, companyId, c.req.valid("param").id);
    if (!row) throw notFound();
    const recent_failures = await recentFailures(c.env.DB, companyId, row.id);
    return c.json({ connector: { ...connectorToWire(row), recent_failures } }, 200);
  })
  .openapi(remove, async (c) => {
    const caller = c.get("caller");
    const row = await findConnector(c.env.DB, caller.companyId, c.req.valid("param").id);
    if (!row) throw notFound();
    const nowMs = Date.now();
    const deletedAt = isoTime(nowMs);
    await companyLedger(c.env, caller.companyId).record(caller.companyId, nowMs, {
      writes: [deleteConnector(row.id, deletedAt)],
      events: [
        {
          type: EVENT.connectorDeleted,
          outcome: "success",
          actor: caller.keyId,
          request_id: c.get("requestId"),
          metadata: { connector_id: row.id, type: row.type, name: row.name },
        },
      ],
    });
    return c.json({ connector: { ...connectorToWire(row), deleted_at: deletedAt } }, 200);
  })
  .openapi(check, async (c) => {
    const row = await findConnector(c.env.DB, c.get("caller").companyId, c.req.valid("param").id);
    if (!row) throw notFound();
    const timeoutMs = intSetting(c.env.CONNECTOR_TIMEOUT_MS, PROVIDER_TIMEOUT_MS);
    return c.json(await testConnector(await openConnector(c.env, row), Date.now(), { timeoutMs }), 200);
  })
  .openapi(link, async (c) => {
    const { userId, connectorId } = c.req.valid("param");
    const { provider_user_id } = c.req.valid("json");
    const caller = c.get("caller");
    if ((await externalIdOf(c.env, caller.companyId, userId)) === null) {
      throw new ApiError("not_found", {}, { message: "Identity not found" });
    }
    if (!(await findConnector(c.env.DB, caller.companyId, connectorId))) throw notFound();
    const nowMs = Date.now();
    const updatedAt = isoTime(nowMs);
    await companyLedger(c.env, caller.companyId).record(caller.companyId, nowMs, {
      writes: [
        upsertConnectorLink({
          identity_id: userId,
          connector_id: connectorId,
          company_id: caller.companyId,
          provider_user_id,
          updated_at: updatedAt,
        }),
      ],
      events: [
        {
          type: EVENT.connectorLinked,
          outcome: "success",
          identity_id: userId,
          actor: caller.keyId,
          request_id: c.get("requestId"),
          metadata: { connector_id: connectorId, provider_user_id },
        },
      ],
    });
    return c.json(
      { link: { identity_id: userId, connector_id: connectorId, provider_user_id, updated_at: updatedAt } },
      200,
    );
  });
