import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * Every error the API can answer, in one registry: tests compare against it and
 * the one envelope builder below is the only way an error reaches the wire.
 * Messages quoted in the contract (docs/API.md) are kept word for word.
 */
export const ERRORS = {
  invalid_request: { status: 400, message: "Request validation failed" },
  invalid_json: { status: 400, message: "Request body is not valid JSON" },
  unauthorized: { status: 401, message: "Missing, malformed, unknown or revoked API key" },
  invalid_code: { status: 401, message: "Invalid OTP code" },
  code_reused: { status: 401, message: "OTP code already used" },
  insufficient_scope: { status: 403, message: "API key lacks the required scope" },
  identity_disabled: { status: 403, message: "Identity is disabled" },
  high_risk: { status: 403, message: "High risk detection" },
  not_found: { status: 404, message: "Not found" },
  identity_exists: {
    status: 409,
    message: "User with this external_id already exists for this company",
  },
  mfa_not_configured: {
    status: 409,
    message: "No active TOTP secret and no unused backup code for this identity",
  },
  incident_closed: { status: 409, message: "Incident is closed" },
  dead_letter_unreadable: {
    status: 409,
    message: "This dead letter is not a D1 writes message and cannot be replayed",
  },
  payload_too_large: { status: 413, message: "Request body exceeds 16 KiB" },
  unsupported_media_type: {
    status: 415,
    message: "Request body must be JSON (application/json or text/plain)",
  },
  locked: { status: 423, message: "Account locked due to too many failed attempts" },
  rate_limited: { status: 429, message: "Too many requests; retry after the Retry-After seconds" },
  internal_error: { status: 500, message: "Internal error" },
} as const satisfies Record<string, { status: ContentfulStatusCode; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export type ErrorExtras = Record<string, unknown>;

/** An expected failure: thrown from handlers, turned into the envelope by the app's error handler. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly extras: ErrorExtras;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    extras: ErrorExtras = {},
    options: { message?: string; headers?: Record<string, string> } = {},
  ) {
    super(options.message ?? ERRORS[code].message);
    this.code = code;
    this.extras = extras;
    this.headers = options.headers ?? {};
  }

  get status(): ContentfulStatusCode {
    return ERRORS[this.code].status;
  }
}

/** The one envelope: `{"error", "code", ...extras}` with `Cache-Control: no-store`. */
export function errorResponse(error: ApiError, requestId: string): Response {
  const body = { error: error.message, code: error.code, ...error.extras };
  return new Response(JSON.stringify(body), {
    status: error.status,
    headers: {
      "Content-Type": "application/json; charset=UTF-8",
      "Cache-Control": "no-store",
      "X-Request-Id": requestId,
      ...error.headers,
    },
  });
}
