/**
 * Threat: a string that is not well-formed Unicode (a lone UTF-16 surrogate, sent as the JSON
 * escape `\ud800`, or an invalid percent-encoding in a URL) is stored differently from how it
 * was hashed or named. Storage replaces the surrogate with U+FFFD, so an audit event hashed
 * before storage never verifies again (and a planted break used to hide later tampering), and
 * two different external ids collapse onto one stored spelling, so an action on one identity
 * lands on another. Every string at the boundary (body, query, path) must be well-formed, or
 * the request is `400 invalid_request` naming the field, before anything is stored.
 */
import { describe, expect, it } from "vitest";
import { call, enrolled, provision, tenant } from "../helpers";

/** Sends `text` exactly as given: JSON escapes such as `\ud800` reach the parser unchanged. */
async function rawPost(path: string, key: string, text: string) {
  return call(path, { key, rawBody: text, headers: { "content-type": "application/json" } });
}

describe("lone surrogates and malformed percent-encoding are refused at the boundary", () => {
  for (const action of ["force-mfa", "revoke-sessions", "disable"] as const) {
    it(`refuses a lone surrogate in a ${action} reason and leaves the audit chain whole`, async () => {
      const { key, identityId } = await enrolled("u");
      const res = await rawPost(
        `/v1/sentinel/identity/${identityId}/${action}`,
        key,
        '{"reason": "suspicious \\ud800 login"}',
      );
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({
        code: "invalid_request",
        details: [{ path: "reason", message: expect.any(String) }],
      });
      const actions = await call(`/v1/sentinel/identity/${identityId}/actions`, { key });
      expect(actions.body.actions).toEqual([]);
      const verify = await call("/v1/audit/verify", { key });
      expect(verify.body).toMatchObject({ ok: true, broken: null });
    });
  }

  it("refuses a lone low surrogate, a reversed pair and one inside an object key", async () => {
    const { key, identityId } = await enrolled("u");
    for (const body of [
      '{"reason": "x \\udc00 y"}',
      '{"reason": "\\udc00\\ud800"}',
      '{"reason": "ok", "incident_id": "INC-\\ud83d"}',
    ]) {
      const res = await rawPost(`/v1/sentinel/identity/${identityId}/force-mfa`, key, body);
      expect(res.status, body).toBe(400);
      expect(res.body.code).toBe("invalid_request");
    }
    const inKey = await rawPost("/v1/idp/users", key, '{"user": {"external_id": "a", "\\ud800": 1}}');
    expect(inKey.status).toBe(400);
    expect(inKey.body.details[0].path).toBe("user.\ufffd");
  });

  it("accepts a well-formed surrogate pair (an emoji) and stores exactly what it hashed", async () => {
    const { key, identityId } = await enrolled("u");
    const res = await rawPost(
      `/v1/sentinel/identity/${identityId}/force-mfa`,
      key,
      '{"reason": "phish \\ud83c\\udfa3"}',
    );
    expect(res.status).toBe(200);
    expect(res.body.data.action.reason).toBe("phish \u{1F3A3}");
    expect((await call("/v1/audit/verify", { key })).body).toMatchObject({ ok: true, broken: null });
  });

  it("cannot provision an external id with a lone surrogate, so no look-alike can take its actions", async () => {
    const { key } = await tenant();
    const lone = await rawPost("/v1/idp/users", key, '{"user": {"external_id": "lone\\ud800x"}}');
    expect(lone.status).toBe(400);
    expect(lone.body.details[0].path).toBe("user.external_id");

    // The look-alike that storage would have confused it with is an ordinary, reachable identity.
    const lookAlike = await provision(key, "lone\ufffd\ufffd\ufffdx");
    expect(lookAlike.status).toBe(201);
    const profile = await call(`/v1/idp/users?externalUserId=${encodeURIComponent("lone\ufffd\ufffd\ufffdx")}`, {
      key,
    });
    expect(profile.body.id).toBe(lookAlike.body.user.id);
  });

  it("refuses a percent-encoded surrogate or invalid UTF-8 in the query string, naming the parameter", async () => {
    const { key } = await tenant();
    for (const value of ["%ED%A0%80", "a%FFb", "%C0%AF", "100%"]) {
      const res = await call(`/v1/idp/users?externalUserId=${value}`, { key });
      expect(res.status, value).toBe(400);
      expect(res.body).toMatchObject({ code: "invalid_request", details: [{ path: "externalUserId" }] });
    }
  });

  it("refuses invalid UTF-8 in a path parameter", async () => {
    const { key } = await tenant();
    for (const path of ["/v1/sentinel/identity/%ED%A0%80/actions", "/v1/idp/sessions/ses_%FF"]) {
      const res = await call(path, { key, method: path.includes("sessions") ? "DELETE" : "GET" });
      expect(res.status, path).toBe(400);
      expect(res.body.code).toBe("invalid_request");
    }
  });
});

describe("an action reaches only the identity it names", () => {
  it("answers 404 for an id the runtime did not mint, and for another company's identity", async () => {
    const { key, identityId: aliceId } = await enrolled("alice");
    const other = await tenant("other");
    const bob = await provision(other.key, "bob");
    const forged = `idn_${"0".repeat(63)}1`;
    const flipped = `${aliceId.slice(0, -1)}${aliceId.endsWith("0") ? "1" : "0"}`;
    for (const id of [forged, flipped, bob.body.user.id, `${aliceId}0`, aliceId.toUpperCase()]) {
      const res = await call(`/v1/sentinel/identity/${id}/disable`, { key, body: { reason: "r" } });
      expect(res.status, id).toBe(404);
      expect(res.body.code, id).toBe("not_found");
    }
    const profile = await call("/v1/idp/users?externalUserId=bob", { key: other.key });
    expect(profile.body).toMatchObject({ id: bob.body.user.id, status: "active" });
  });

  it("acts on the identity whose object the id names", async () => {
    const { key, identityId } = await enrolled("carol");
    const res = await call(`/v1/sentinel/identity/${identityId}/disable`, { key, body: { reason: "r" } });
    expect(res.status).toBe(200);
    const profile = await call("/v1/idp/users?externalUserId=carol", { key });
    expect(profile.body).toMatchObject({ id: identityId, status: "disabled" });
  });
});
