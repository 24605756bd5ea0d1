// What the stand-ins (providers.ts) expect: the documented scopes, and the credentials the
// tests create connectors with. No Node imports: the tests inside workerd read it too.
export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";
export const GOOGLE_SCOPES =
  "https://www.googleapis.com/auth/admin.directory.user https://www.googleapis.com/auth/admin.directory.user.security";

/** What each tenant's stand-ins expect as credentials (the tests create connectors with these). */
export const EXPECTED = {
  entra: { tenantId: "contoso-tenant", clientId: "client-123", clientSecret: "entra-secret-value-9f8e7d" },
  okta: { apiToken: "00okta-api-token-3c2b1a" },
  google: { clientEmail: "sentinel@acme-iam.iam.gserviceaccount.com", subject: "admin@acme.example" },
};

/** A scripted answer: a status, or "hang" (never answer). */
export type Scripted = number | "hang";

/** One request as a stand-in logged it, with the problem it found (null when it was as documented). */
export interface StandInRequest {
  provider: "entra" | "okta" | "google";
  kind: "token" | "api";
  method: string;
  path: string;
  authorization: string | null;
  contentType: string | null;
  body: unknown;
  problem: string | null;
  answered: Scripted;
}
