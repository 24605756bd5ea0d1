import { describe, expect, it } from "vitest";
import { call, provision, tenant } from "../helpers";

describe("identities", () => {
  it("provisions an identity and returns the seed's shape", async () => {
    const { key } = await tenant();
    const res = await provision(key, "ORG_USR_9921_AFG");
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      user: {
        id: expect.stringMatching(/^idn_[0-9A-HJKMNP-TV-Z]{26}$/),
        external_id: "ORG_USR_9921_AFG",
        status: "active",
      },
    });
  });
});
