import { describe, expect, it } from "vitest";
import { call, provision, tenant } from "../helpers";

/** An identity id names its Durable Object: `idn_` and the object id's 64 hex digits. */
const IDN = /^idn_[0-9a-f]{64}$/;

describe("POST /v1/idp/users (provision)", () => {
  it("provisions an identity and answers the contract's shape", async () => {
    const { key } = await tenant();
    const res = await provision(key, "ORG_USR_9921_AFG");
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      user: { id: expect.stringMatching(IDN), external_id: "ORG_USR_9921_AFG", status: "active" },
    });
  });

  it("answers 409 with the contract's message word for word for a duplicate", async () => {
    const { key } = await tenant();
    expect((await provision(key, "dup")).status).toBe(201);
    const res = await provision(key, "dup");
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: "User with this external_id already exists for this company",
      code: "identity_exists",
    });
  });

  it("lets two companies hold the same external_id as two identities", async () => {
    const a = await tenant("A");
    const b = await tenant("B");
    const ra = await provision(a.key, "shared-id");
    const rb = await provision(b.key, "shared-id");
    expect(ra.status).toBe(201);
    expect(rb.status).toBe(201);
    expect(ra.body.user.id).not.toBe(rb.body.user.id);
    const pa = await call("/v1/idp/users?externalUserId=shared-id", { key: a.key });
    const pb = await call("/v1/idp/users?externalUserId=shared-id", { key: b.key });
    expect(pa.body.saas_client_id).toBe(a.companyId);
    expect(pb.body.saas_client_id).toBe(b.companyId);
    expect(pa.body.id).toBe(ra.body.user.id);
    expect(pb.body.id).toBe(rb.body.user.id);
  });

  it("creates exactly one identity when the same external_id is provisioned 10 times at once", async () => {
    const { key } = await tenant();
    const results = await Promise.all(Array.from({ length: 10 }, () => provision(key, "racy")));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(9);
  });
});

describe("GET /v1/idp/users (profile)", () => {
  it("answers every profile field with its type", async () => {
    const { key, companyId } = await tenant();
    const created = await provision(key, "ORG_USR_9921_AFG");
    const res = await call("/v1/idp/users?externalUserId=ORG_USR_9921_AFG", { key });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: created.body.user.id,
      external_id: "ORG_USR_9921_AFG",
      status: "active",
      has_otp: false,
      has_passkeys: false,
      is_locked: false,
      failed_attempts: 0,
      saas_client_id: companyId,
      backup_codes_remaining: 0,
      locked_until: null,
      mfa_challenge_required_from: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
  });

  it("answers 404 for an unknown identity", async () => {
    const { key } = await tenant();
    const res = await call("/v1/idp/users?externalUserId=nobody", { key });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("not_found");
  });

  it("answers 404 for another company's identity, exactly as if it did not exist", async () => {
    const owner = await tenant("Owner");
    const other = await tenant("Other");
    await provision(owner.key, "private-user");
    const foreign = await call("/v1/idp/users?externalUserId=private-user", { key: other.key });
    const missing = await call("/v1/idp/users?externalUserId=no-such-user", { key: other.key });
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual(missing.body);
  });

  it("keeps external ids that differ only by case or separators apart", async () => {
    const { key } = await tenant();
    expect((await provision(key, "user")).status).toBe(201);
    expect((await provision(key, "USER")).status).toBe(201);
    expect((await provision(key, '["user"]')).status).toBe(201);
  });
});
