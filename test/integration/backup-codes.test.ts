import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { isoTime } from "../../src/domain/ids";
import { identityGuard } from "../../src/identity/guard";
import { call, provision, tenant, verifyCode } from "../helpers";

describe("POST /v1/idp/backup-codes", () => {
  it("generates 10 codes of the form LLLL-DDDD", async () => {
    const { key } = await tenant();
    await provision(key, "ORG_USR_9921_AFG");
    const res = await call("/v1/idp/backup-codes?externalUserId=ORG_USR_9921_AFG", { key, method: "POST" });
    expect(res.status).toBe(201);
    expect(res.body.user.id).toBe("ORG_USR_9921_AFG");
    expect(res.body.user.backupCodes).toHaveLength(10);
    for (const code of res.body.user.backupCodes) expect(code).toMatch(/^[A-Z]{4}-\d{4}$/);
    expect(new Set(res.body.user.backupCodes).size).toBe(10);
    expect((await call("/v1/idp/users?externalUserId=ORG_USR_9921_AFG", { key })).body.backup_codes_remaining).toBe(10);
  });

  it("accepts a code once, case-insensitive and with or without the hyphen", async () => {
    const { key } = await tenant();
    await provision(key, "u");
    const codes: string[] = (await call("/v1/idp/backup-codes?externalUserId=u", { key, method: "POST" })).body.user
      .backupCodes;
    const [first = "", second = ""] = codes;
    const ok = await verifyCode(key, "u", first.toLowerCase());
    expect(ok.body).toMatchObject({ status: "success", method: "backup_code", backup_codes_remaining: 9 });
    // Resent within a minute: the client's retry, refused and not counted.
    expect((await verifyCode(key, "u", first)).body).toMatchObject({ code: "code_reused", failed_attempts: 0 });
    expect((await verifyCode(key, "u", second.replace("-", ""))).body.backup_codes_remaining).toBe(8);
  });

  it("counts a used code sent again after the retry minute as a failure", async () => {
    const { key, companyId } = await tenant();
    await provision(key, "u");
    const codes: string[] = (await call("/v1/idp/backup-codes?externalUserId=u", { key, method: "POST" })).body.user
      .backupCodes;
    const first = codes[0] ?? "";
    expect((await verifyCode(key, "u", first)).status).toBe(200);
    await runInDurableObject(identityGuard(env, companyId, "u"), (_, state) => {
      state.storage.sql.exec(
        "UPDATE backup_codes SET used_at = ? WHERE used_at IS NOT NULL",
        isoTime(Date.now() - 61_000),
      );
    });
    expect((await verifyCode(key, "u", first)).body).toMatchObject({ code: "invalid_code", failed_attempts: 1 });
  });

  it("replaces the previous set: old codes stop working", async () => {
    const { key } = await tenant();
    await provision(key, "u");
    const old: string[] = (await call("/v1/idp/backup-codes?externalUserId=u", { key, method: "POST" })).body.user
      .backupCodes;
    await call("/v1/idp/backup-codes?externalUserId=u", { key, method: "POST" });
    expect((await verifyCode(key, "u", old[0])).body.code).toBe("invalid_code");
  });

  it("answers 404 for an unknown identity", async () => {
    const { key } = await tenant();
    expect((await call("/v1/idp/backup-codes?externalUserId=ghost", { key, method: "POST" })).status).toBe(404);
  });
});
