import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { call, provision, tenant } from "../helpers";
import { EXPECTED, type StandInRequest } from "../stand-ins/expected";

export type { StandInRequest };

export type ProviderName = "entra" | "okta" | "google_workspace";

/** A stand-in tenant of its own (see test/stand-ins/providers.ts). */
export function standIn() {
  const name = `t${crypto.randomUUID().replaceAll("-", "")}`;
  const root = `${env.STAND_IN_URL}/t/${name}`;
  return {
    root,
    async script(script: { api?: (number | "hang")[]; token?: (number | "hang")[]; google_public_key?: string }) {
      const res = await fetch(`${root}/__script`, { method: "PUT", body: JSON.stringify(script) });
      expect(res.status).toBe(204);
    },
    async log(): Promise<StandInRequest[]> {
      return ((await (await fetch(`${root}/__log`)).json()) as { requests: StandInRequest[] }).requests;
    },
  };
}

/** An RSA service account key: the PKCS#8 PEM the connector holds, the SPKI PEM the stand-in checks with. */
export async function serviceAccountKey(): Promise<{ privatePem: string; publicPem: string }> {
  const pair = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const pem = (label: string, der: ArrayBuffer) => {
    const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
    return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)?.join("\n")}\n-----END ${label}-----\n`;
  };
  return {
    privatePem: pem("PRIVATE KEY", (await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer),
    publicPem: pem("PUBLIC KEY", (await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer),
  };
}

/** The body that connects `type` to the stand-in tenant `root`. */
export function connectorBody(type: ProviderName, root: string, privatePem = ""): Record<string, unknown> {
  if (type === "entra") {
    return {
      type,
      name: "Contoso Entra ID",
      base_url: `${root}/entra`,
      token_url: `${root}/login/{tenant}/oauth2/v2.0/token`,
      credentials: {
        tenant_id: EXPECTED.entra.tenantId,
        client_id: EXPECTED.entra.clientId,
        client_secret: EXPECTED.entra.clientSecret,
      },
    };
  }
  if (type === "okta") {
    return { type, name: "Acme Okta", base_url: `${root}/okta`, credentials: { api_token: EXPECTED.okta.apiToken } };
  }
  return {
    type,
    name: "Acme Workspace",
    base_url: `${root}/google`,
    token_url: `${root}/google-token`,
    credentials: {
      client_email: EXPECTED.google.clientEmail,
      private_key: privatePem,
      subject: EXPECTED.google.subject,
    },
  };
}

/** A company with one identity and a connector of each given type, each to its own stand-in tenant. */
export async function connected(types: ProviderName[], externalId = "alice@acme.example") {
  const company = await tenant();
  const identity = await provision(company.key, externalId);
  expect(identity.status).toBe(201);
  const connectors: Record<string, { id: string; stand: ReturnType<typeof standIn> }> = {};
  let googlePrivateKey: string | null = null;
  for (const type of types) {
    const stand = standIn();
    let privatePem = "";
    if (type === "google_workspace") {
      const key = await serviceAccountKey();
      privatePem = key.privatePem;
      googlePrivateKey = privatePem;
      await stand.script({ google_public_key: key.publicPem });
    }
    const res = await call("/v1/sentinel/connectors", {
      key: company.key,
      body: connectorBody(type, stand.root, privatePem),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    connectors[type] = { id: res.body.connector.id, stand };
  }
  return { ...company, identityId: identity.body.user.id as string, externalId, connectors, googlePrivateKey };
}

/** Waits until every delivery of the action is no longer pending; answers the action as listed. */
export async function settledAction(key: string, identityId: string, actionId: string, timeoutMs = 25_000) {
  let found: any = null;
  await expect
    .poll(
      async () => {
        const res = await call(`/v1/sentinel/identity/${identityId}/actions`, { key });
        found = res.body.actions.find((a: { id: string }) => a.id === actionId) ?? null;
        return found?.deliveries.every((d: { status: string }) => d.status !== "pending") === true;
      },
      { timeout: timeoutMs, interval: 250 },
    )
    .toBe(true);
  return found;
}

/** The stand-in's API calls (tokens left out) as "METHOD path" lines, with any problem it found. */
export function apiCalls(log: StandInRequest[]): string[] {
  return log.filter((r) => r.kind === "api").map((r) => `${r.method} ${r.path}`);
}

export function problems(log: StandInRequest[]): string[] {
  return log.filter((r) => r.problem !== null).map((r) => `${r.method} ${r.path}: ${r.problem}`);
}
