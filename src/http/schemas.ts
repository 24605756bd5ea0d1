import { z } from "@hono/zod-openapi";
import { containsApiKey } from "./api-key-auth";

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

export const ErrorSchema = z
  .object({
    error: z.string(),
    code: z.string(),
  })
  .passthrough()
  .openapi("Error");

/** The error responses every authenticated route may give, for the OpenAPI document. */
export function errorResponses(
  ...statuses: number[]
): Record<number, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }> {
  const descriptions: Record<number, string> = {
    400: "Invalid request or JSON",
    401: "Missing, malformed, unknown or revoked key",
    403: "The key lacks the scope",
    404: "Unknown object (or another company's)",
    409: "Conflict",
    413: "Body over 16 KiB",
    415: "Body is not JSON",
    423: "Locked",
    429: "Rate limited: Retry-After says in how many seconds to try again",
  };
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: descriptions[status] ?? "Error", content: { "application/json": { schema: ErrorSchema } } },
    ]),
  );
}

export const ISO_TIME = z.string().openapi({ example: "2025-06-01T03:14:00.000Z" });
