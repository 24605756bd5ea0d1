import { z } from "@hono/zod-openapi";
import { ERRORS, type ErrorCode } from "../errors";
import { containsApiKey } from "./api-key-auth";
import { SCOPES } from "./context";

/**
 * The control characters (Unicode category Cc: U+0000 to U+001F and U+007F to U+009F), as a
 * character class without the `u` flag: the OpenAPI document carries a pattern's source alone,
 * so a pattern that needs a flag would reach validators that read the document broken.
 */
const CONTROL = "\\u0000-\\u001f\\u007f-\\u009f";

/** A pattern of text without control characters or any of `alsoRefused` (regex-escaped). */
export function textPattern(alsoRefused = ""): string {
  return `^[^${CONTROL}${alsoRefused}]*$`;
}

/** Unicode text without control characters, `min`..`max` characters long. */
export function plainText(min: number, max: number): z.ZodString {
  return z.string().min(min).max(max).regex(new RegExp(textPattern()), "must not contain control characters");
}

/** An external id: it may not look like an API key, or query routes could never name it. */
export const ExternalIdSchema = plainText(1, 255)
  .refine((value) => !containsApiKey(value), "must not contain an API key")
  .openapi({ example: "ORG_USR_9921_AFG" });

export const ExternalUserIdQuery = z.object({
  externalUserId: ExternalIdSchema,
});

/** A `details` entry of `invalid_request`: which field, and what is wrong with it. */
const DetailsSchema = z
  .array(z.object({ path: z.string(), message: z.string() }))
  .openapi({ description: "One entry per problem, naming the field (dotted path) and what is wrong" });

/** What a refused code says of the identity's failures (a replay of the code just accepted counts none). */
const ATTEMPTS = {
  failed_attempts: z.number().int().openapi({ description: "Consecutive failures, this one included if it counted" }),
  attempts_remaining: z.number().int().openapi({ description: "Failures left before the identity locks" }),
};

/** What each code adds to the envelope beyond `error` and `code` (the same extras wherever the code is answered). */
const ERROR_EXTRAS: { [C in ErrorCode]?: Record<string, z.ZodType> } = {
  invalid_request: { details: DetailsSchema },
  insufficient_scope: { required_scope: z.enum(SCOPES) },
  invalid_code: ATTEMPTS,
  code_reused: ATTEMPTS,
  locked: {
    locked_until: z.string().nullable().openapi({ description: "When the lock ends; null for a permanent lock" }),
    failed_attempts: z.number().int(),
  },
  incident_closed: { incident_id: z.string() },
};

const errorSchemas = new Map<string, z.ZodType>();

/** The envelope of one code, as a named component (`<Code>Error`), its extras typed. */
function errorSchema(code: ErrorCode, extras: Record<string, z.ZodType> = {}): z.ZodType {
  const name = `${code
    .split("_")
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("")}Error`;
  let schema = errorSchemas.get(name);
  if (!schema) {
    schema = z
      .object({
        error: z.string().openapi({ example: ERRORS[code].message }),
        code: z.literal(code),
        ...ERROR_EXTRAS[code],
        ...extras,
      })
      .openapi(name, { description: ERRORS[code].message });
    errorSchemas.set(name, schema);
  }
  return schema;
}

/** The codes every route can answer: the URL rules run before any route (a bad query, a key in the URL). */
const BOUNDARY_CODES: ErrorCode[] = ["invalid_request", "unauthorized"];
/** What a route with an API key adds: the key, its scope, and the rate limits. */
export const API_KEY_CODES: ErrorCode[] = ["unauthorized", "insufficient_scope", "rate_limited"];
/** What a route with a JSON body adds (src/http/json-body.ts). */
export const BODY_CODES: ErrorCode[] = [
  "invalid_request",
  "invalid_json",
  "payload_too_large",
  "unsupported_media_type",
];

/**
 * The error responses a route can give, for the OpenAPI document: per status, the envelope
 * of each code the route can answer there (`oneOf` on `code` where a status has several), so a
 * typed client can switch on `code` and read each code's extra fields. `extras` types fields a
 * code carries on this route only (the assessment of `high_risk`).
 */
export function errorResponses(
  codes: ErrorCode[],
  extras: { [C in ErrorCode]?: Record<string, z.ZodType> } = {},
): Record<number, { description: string; content: { "application/json": { schema: z.ZodType } } }> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set([...BOUNDARY_CODES, ...codes])) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => {
      const schemas = list.map((code) => errorSchema(code, extras[code]));
      const schema = schemas.length === 1 ? (schemas[0] as z.ZodType) : z.union(schemas as [z.ZodType, z.ZodType]);
      return [
        status,
        {
          description: list.map((code) => `\`${code}\`: ${ERRORS[code].message}`).join("; "),
          content: { "application/json": { schema } },
        },
      ];
    }),
  );
}

export const ISO_TIME = z.string().openapi({ example: "2025-06-01T03:14:00.000Z" });
