/**
 * The typed client (client/index.ts) drives the whole flow against the Worker: provision, enrol,
 * verify, introspect, discover, disable. It is typed from the OpenAPI document alone, so this
 * file compiling (npm test type-checks it) is half the test: paths, bodies and answers are the
 * document's, and every error is narrowed by its `code` (see `verifyRefusal`, whose switch must
 * cover each code verify can answer, or `tsc` fails).
 */
import { SELF } from "cloudflare:test";
import type { Client } from "openapi-fetch";
import { describe, expect, it } from "vitest";
import { createIdpClient, type paths } from "../../client";
import { ADMIN_TOKEN, ALL_SCOPES, totpCode } from "../helpers";

const baseUrl = "https://idp.test";
const fetch = (request: Request) => SELF.fetch(request);

const verify = (idp: Client<paths>, code: string) =>
  idp.POST("/v1/idp/otp/verify", { body: { otp: { id: "typed-user", code } } });
/** The client's own type for verify's `error`: the union of the envelopes the document lists for it. */
type VerifyError = NonNullable<Awaited<ReturnType<typeof verify>>["error"]>;

function refusalOf(answer: { error?: VerifyError }): string {
  if (!answer.error) throw new Error("expected an error");
  return verifyRefusal(answer.error);
}

/** What a platform would tell its user, per code verify can refuse with; exhaustive by type. */
function verifyRefusal(error: VerifyError): string {
  switch (error.code) {
    case "invalid_code":
    case "code_reused":
      return `wrong code, ${error.attempts_remaining} tries left`;
    case "locked":
      return error.locked_until === null ? "locked for good" : `locked until ${error.locked_until}`;
    case "identity_disabled":
      return "account disabled";
    case "mfa_not_configured":
      return "set up MFA first";
    case "invalid_request":
      return `bad request: ${error.details.map((d) => d.path).join(", ")}`;
    case "insufficient_scope":
      return `the key lacks ${error.required_scope}`;
    case "unauthorized":
    case "not_found":
    case "invalid_json":
    case "payload_too_large":
    case "unsupported_media_type":
    case "rate_limited":
      return error.error;
    default: {
      const unhandled: never = error;
      return unhandled;
    }
  }
}

describe("the typed client", () => {
  it("runs provision, enrol, verify, introspect, discover and disable, with typed errors", async () => {
    const admin = createIdpClient({ baseUrl, apiKey: ADMIN_TOKEN, fetch });
    const company = await admin.POST("/v1/admin/companies", { body: { name: "Typed" } });
    expect(company.response.status).toBe(201);
    const companyId = company.data?.company.id as string;
    const created = await admin.POST("/v1/admin/api-keys", { body: { company_id: companyId, scopes: ALL_SCOPES } });
    const idp = createIdpClient({ baseUrl, apiKey: created.data?.api_key.key as string, fetch });

    const user = await idp.POST("/v1/idp/users", { body: { user: { external_id: "typed-user" } } });
    expect(user.response.status).toBe(201);
    const identityId = user.data?.user.id as string;

    const enrolment = await idp.POST("/v1/idp/otp", {
      params: { query: { externalUserId: "typed-user" } },
      body: { otp: { issuer_name: "Typed", account_name: "typed@example.com" } },
    });
    expect(enrolment.response.status).toBe(201);
    const secret = enrolment.data?.user.new_otp_secret as string;

    const wrong = await verify(idp, "000000");
    expect(wrong.response.status).toBe(401);
    expect(refusalOf(wrong)).toBe("wrong code, 4 tries left");

    const verified = await verify(idp, totpCode(secret));
    expect(verified.response.status).toBe(200);
    const token = verified.data?.session.token as string;

    const active = await idp.POST("/v1/idp/sessions/introspect", { body: { session: { token } } });
    expect(active.data?.active).toBe(true);

    const risk = await idp.POST("/v1/sentinel/discover", {
      body: { sentinel: { id: identityId, context: { ip: "203.0.113.5", ua: "Mozilla/5.0" } } },
    });
    expect(risk.response.status).toBe(200);
    expect(risk.data?.recommendation).toMatch(/^(allow|challenge|deny)$/);

    const disabled = await idp.POST("/v1/sentinel/identity/{userId}/disable", {
      params: { path: { userId: identityId } },
      body: { reason: "typed client test" },
    });
    expect(disabled.data?.data.identity.status).toBe("disabled");

    const after = await idp.POST("/v1/idp/sessions/introspect", { body: { session: { token } } });
    expect(after.data).toEqual({ active: false, reason: "disabled" });
    const refused = await verify(idp, totpCode(secret, Date.now() + 30_000));
    expect(refused.response.status).toBe(403);
    expect(refusalOf(refused)).toBe("account disabled");
  });
});
