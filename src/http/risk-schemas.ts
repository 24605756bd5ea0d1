import { z } from "@hono/zod-openapi";
import { parseCidr } from "../domain/risk/network";
import { SIGNAL_NAMES } from "../domain/risk/score";
import { ISO_TIME } from "./schemas";

/** Sentinel's wire shapes shared by its routes. */

const cidr = z
  .string()
  .max(64)
  .refine((text) => parseCidr(text) !== null, { message: "not a valid IPv4 or IPv6 CIDR range (address/bits)" });

const country = z.string().regex(/^[A-Z]{2}$/, "an ISO 3166-1 alpha-2 code, upper case");
const threshold = z.number().min(0).max(1);

export const SignalNameSchema = z.enum(SIGNAL_NAMES);

export const RiskPolicySchema = z
  .object({
    mode: z.enum(["enforce", "monitor"]),
    challenge_threshold: threshold,
    deny_threshold: threshold,
    allow_cidrs: z.array(z.string()),
    deny_cidrs: z.array(z.string()),
    deny_countries: z.array(z.string()),
    max_travel_kmh: z.number(),
    weights: z.record(z.string(), z.number()),
    version: z.number().int(),
    updated_at: ISO_TIME.nullable(),
  })
  .openapi("RiskPolicy");

export const PolicyChangeSchema = z.strictObject({
  mode: z.enum(["enforce", "monitor"]).optional(),
  challenge_threshold: threshold.optional(),
  deny_threshold: threshold.optional(),
  allow_cidrs: z.array(cidr).max(500).optional(),
  deny_cidrs: z.array(cidr).max(500).optional(),
  deny_countries: z.array(country).max(250).optional(),
  max_travel_kmh: z.number().min(1).max(100_000).optional(),
  weights: z.partialRecord(SignalNameSchema, threshold).optional(),
});
