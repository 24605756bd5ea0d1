import { describe, it } from "vitest";
import { FUZZ_SEED, fuzzEveryRoute } from "./harness";

describe("fuzz: random requests against every route (shard 1 of 4)", () => {
  it("answers each with a 4xx envelope or a documented success, never a 5xx; every chain still verifies", async () => {
    await fuzzEveryRoute(FUZZ_SEED + 1, 200);
  }, 120_000);
});
