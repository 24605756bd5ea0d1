/**
 * Threat: malformed input (wrong types, broken JSON, odd media types, oversized bodies,
 * control characters) crashes a handler, leaks a stack trace or SQL, or slips past
 * validation. Every such request must get a 4xx in the one envelope, never a 500.
 */
import { describe, expect, it } from "vitest";
import { call, tenant } from "../helpers";

interface BadRequest {
  name: string;
  path: string;
  method?: string;
  body?: string;
  contentType?: string | null;
  status: number;
  code: string;
}

const big = JSON.stringify({ user: { external_id: "x".repeat(17 * 1024) } });

const CASES: BadRequest[] = [
  { name: "body is not JSON", path: "/v1/idp/users", body: "{user:", status: 400, code: "invalid_json" },
  { name: "body is a bare string", path: "/v1/idp/users", body: '"hello"', status: 400, code: "invalid_request" },
  { name: "body is an array", path: "/v1/idp/users", body: "[]", status: 400, code: "invalid_request" },
  { name: "body is null", path: "/v1/idp/users", body: "null", status: 400, code: "invalid_request" },
  { name: "empty body where user is required", path: "/v1/idp/users", body: "", status: 400, code: "invalid_request" },
  { name: "user missing", path: "/v1/idp/users", body: "{}", status: 400, code: "invalid_request" },
  {
    name: "external_id a number",
    path: "/v1/idp/users",
    body: '{"user":{"external_id":42}}',
    status: 400,
    code: "invalid_request",
  },
  {
    name: "external_id empty",
    path: "/v1/idp/users",
    body: '{"user":{"external_id":""}}',
    status: 400,
    code: "invalid_request",
  },
  {
    name: "external_id over 255 characters",
    path: "/v1/idp/users",
    body: JSON.stringify({ user: { external_id: "a".repeat(256) } }),
    status: 400,
    code: "invalid_request",
  },
  {
    name: "external_id with a control character",
    path: "/v1/idp/users",
    body: JSON.stringify({ user: { external_id: "a\u0000b" } }),
    status: 400,
    code: "invalid_request",
  },
  {
    name: "external_id an object",
    path: "/v1/idp/users",
    body: '{"user":{"external_id":{"$ne":1}}}',
    status: 400,
    code: "invalid_request",
  },
  { name: "body over 16 KiB", path: "/v1/idp/users", body: big, status: 413, code: "payload_too_large" },
  {
    name: "form-encoded body",
    path: "/v1/idp/users",
    body: "user=1",
    contentType: "application/x-www-form-urlencoded",
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "XML body",
    path: "/v1/idp/users",
    body: "<user/>",
    contentType: "application/xml",
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "profile without externalUserId",
    path: "/v1/idp/users",
    method: "GET",
    status: 400,
    code: "invalid_request",
  },
  {
    name: "profile with empty externalUserId",
    path: "/v1/idp/users?externalUserId=",
    method: "GET",
    status: 400,
    code: "invalid_request",
  },
  {
    name: "audit limit not a number",
    path: "/v1/audit/events?limit=lots",
    method: "GET",
    status: 400,
    code: "invalid_request",
  },
  {
    name: "audit limit over 200",
    path: "/v1/audit/events?limit=1000",
    method: "GET",
    status: 400,
    code: "invalid_request",
  },
  {
    name: "audit since not a date",
    path: "/v1/audit/events?since=yesterday",
    method: "GET",
    status: 400,
    code: "invalid_request",
  },
  {
    name: "audit cursor garbage",
    path: "/v1/audit/events?cursor=%%%zz",
    method: "GET",
    status: 400,
    code: "invalid_request",
  },
  {
    name: "verify context ip not an address",
    path: "/v1/idp/otp/verify",
    body: JSON.stringify({ otp: { id: "u", code: "123456" }, context: { ip: "999.1.1.1" } }),
    status: 400,
    code: "invalid_request",
  },
  { name: "unknown route", path: "/v1/idp/nothing-here", method: "GET", status: 404, code: "not_found" },
  { name: "wrong method on a route", path: "/v1/audit/verify", method: "DELETE", status: 404, code: "not_found" },
];

describe("malformed requests get a 4xx envelope, never a 500", () => {
  it.each(CASES)("$name -> $status $code", async (badRequest) => {
    const { key } = await tenant();
    const headers: Record<string, string> = {};
    if (badRequest.contentType !== null) headers["content-type"] = badRequest.contentType ?? "application/json";
    const res = await call(badRequest.path, {
      key,
      method: badRequest.method ?? "POST",
      rawBody: badRequest.method === "GET" ? undefined : badRequest.body,
      headers,
    });
    expect(res.status).toBe(badRequest.status);
    expect(res.body).toMatchObject({ error: expect.any(String), code: badRequest.code });
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-request-id")).toMatch(/^req_/);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts|SQLITE|stack/i);
  });

  it("lists each validation failure with its path", async () => {
    const { key } = await tenant();
    const res = await call("/v1/idp/users", { key, body: { user: { external_id: 7 } } });
    expect(res.body.details).toEqual([{ path: "user.external_id", message: expect.any(String) }]);
  });

  it("reads a JSON body sent with no content type or as text/plain (what a browser's fetch sends for a string body)", async () => {
    const { key } = await tenant();
    const none = await call("/v1/idp/users", { key, rawBody: JSON.stringify({ user: { external_id: "plain-1" } }) });
    expect(none.status).toBe(201);
    const text = await call("/v1/idp/users", {
      key,
      rawBody: JSON.stringify({ user: { external_id: "plain-2" } }),
      headers: { "content-type": "text/plain;charset=UTF-8" },
    });
    expect(text.status).toBe(201);
    const vendor = await call("/v1/idp/users", {
      key,
      rawBody: JSON.stringify({ user: { external_id: "plain-3" } }),
      headers: { "content-type": "application/vnd.api+json" },
    });
    expect(vendor.status).toBe(201);
  });

  it("refuses unknown fields, naming each one (a typo or a mass-assignment attempt is never ignored)", async () => {
    const { key } = await tenant();
    const res = await call("/v1/idp/users", {
      key,
      body: { user: { external_id: "extra", admin: true }, role: "root" },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_request");
    expect(res.body.details).toEqual(
      expect.arrayContaining([
        { path: "user.admin", message: "unknown field" },
        { path: "role", message: "unknown field" },
      ]),
    );
    expect((await call("/v1/idp/users?externalUserId=extra", { key })).status).toBe(404);
  });

  it("answers unknown routes without a key with 404 as well", async () => {
    const res = await call("/nope");
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("not_found");
  });
});
