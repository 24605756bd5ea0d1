import { z } from "@hono/zod-openapi";
import { importPKCS8 } from "jose";
import { CONNECTOR_TYPES } from "../connectors/providers";
import { ApiError } from "../errors";
import { ISO_TIME, plainText } from "./schemas";

/** The connector routes' request and response shapes (src/routes/connectors.ts). */
const url = plainText(1, 500).openapi({ example: "https://graph.microsoft.com" });
const secret = (max: number) => plainText(1, max);

const EntraBody = z.strictObject({
  type: z.literal("entra"),
  name: plainText(1, 100),
  base_url: url.optional(),
  token_url: url.optional(),
  credentials: z.strictObject({
    tenant_id: plainText(1, 100),
    client_id: plainText(1, 100),
    client_secret: secret(500),
  }),
});
const OktaBody = z.strictObject({
  type: z.literal("okta"),
  name: plainText(1, 100),
  base_url: url.openapi({ example: "https://acme.okta.com", description: "The Okta organization's URL (required)" }),
  credentials: z.strictObject({ api_token: secret(500) }),
});
const GoogleBody = z.strictObject({
  type: z.literal("google_workspace"),
  name: plainText(1, 100),
  base_url: url.optional(),
  token_url: url.optional(),
  credentials: z.strictObject({
    client_email: plainText(3, 320),
    // A PEM spans lines: newlines are allowed here, other control characters are not.
    private_key: z
      .string()
      .min(1)
      .max(8000)
      .regex(/^[\x20-\x7e\r\n]+$/, "must be a PEM private key"),
    subject: plainText(3, 320).openapi({ description: "The Workspace admin the service account acts as" }),
  }),
});
export const CreateConnectorBody = z.discriminatedUnion("type", [EntraBody, OktaBody, GoogleBody]);

export const ConnectorSchema = z
  .object({
    id: z.string(),
    type: z.enum(CONNECTOR_TYPES),
    name: z.string(),
    base_url: z.string(),
    token_url: z.string().nullable(),
    created_at: ISO_TIME,
  })
  .openapi("Connector");

export const DeliveryFailureSchema = z.object({
  delivery_id: z.string(),
  action_id: z.string(),
  action_type: z.string(),
  identity_id: z.string(),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
  failed_at: ISO_TIME,
});

export const ConnectorParams = z.object({ id: plainText(1, 64) });
export const LinkParams = z.object({ userId: plainText(1, 128), connectorId: plainText(1, 64) });

/**
 * A connector URL as stored (no trailing slash), or 400 naming `path`: https, unless `allowHttp`
 * (ALLOW_HTTP_CONNECTOR_URLS) lets a local stand-in be reached over http; no credentials, query
 * or fragment.
 */
export function checkedUrl(allowHttp: boolean, value: string, path: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ApiError("invalid_request", { details: [{ path, message: "must be an absolute URL" }] });
  }
  if (parsed.protocol !== "https:" && !(allowHttp && parsed.protocol === "http:")) {
    throw new ApiError("invalid_request", { details: [{ path, message: "must be https" }] });
  }
  if (parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw new ApiError("invalid_request", {
      details: [{ path, message: "must not carry credentials, a query or a fragment" }],
    });
  }
  return value.replace(/\/+$/, "");
}

/** 400 naming `path` unless `pem` is an RSA private key in PKCS#8 PEM (a Google service account's). */
export async function checkPrivateKey(pem: string, path: string): Promise<void> {
  try {
    await importPKCS8(pem, "RS256");
  } catch {
    throw new ApiError("invalid_request", {
      details: [{ path, message: "must be an RSA private key in PKCS#8 PEM" }],
    });
  }
}
