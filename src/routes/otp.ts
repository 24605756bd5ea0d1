import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { sessionKeyring, totpKeyring } from "../config/keyrings";
import { isoTime } from "../domain/ids";
import { sealSecret } from "../domain/secret-box";
import { signSessionToken } from "../domain/session-token";
import { generateTotpSecret, keyUri } from "../domain/totp";
import { ApiError } from "../errors";
import { requireScope } from "../http/api-key-auth";
import type { AppEnv } from "../http/context";
import { jsonBody } from "../http/json-body";
import { refusal } from "../http/refusals";
import {
  API_KEY_CODES,
  BODY_CODES,
  ExternalIdSchema,
  ExternalUserIdQuery,
  errorResponses,
  plainText,
  textPattern,
} from "../http/schemas";
import { defaultHook } from "../http/validation";
import { totpSealingContext } from "../identity/enrolment";
import { identityGuard } from "../identity/guard";
import type { VerifyOutcome } from "../identity/types";

const security = [{ apiKey: [] }];

/** Issuer and account form the Key URI label `issuer:account`, so neither may hold a colon. */
const labelPart = plainText(1, 255)
  .regex(/^[^:]*$/, "must not contain a colon (the Key URI label separator)")
  .openapi({ pattern: textPattern(":") });

const enrol = createRoute({
  method: "post",
  path: "/otp",
  operationId: "enrolTotp",
  tags: ["mfa"],
  summary: "Generate a TOTP secret and its Key URI (idp:write); the secret is shown this once",
  security,
  middleware: [requireScope("idp:write"), jsonBody] as const,
  request: {
    query: ExternalUserIdQuery,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z.strictObject({
            otp: z.strictObject({
              issuer_name: labelPart.openapi({ example: "Acme Enterprise" }),
              account_name: labelPart.openapi({ example: "alexander@enterprise.com" }),
              confirm: z
                .boolean()
                .default(false)
                .openapi({ description: "Keep the new secret pending until a code verifies against it" }),
            }),
          }),
        },
      },
    },
  },
  responses: {
    201: {
      description: "New MFA secret successfully generated.",
      content: {
        "application/json": {
          schema: z.object({
            user: z.object({
              external_id: z.string(),
              new_otp_secret: z.string(),
              qrcode_payload: z.string(),
              is_setup_complete: z.boolean(),
            }),
          }),
        },
      },
    },
    ...errorResponses([...API_KEY_CODES, ...BODY_CODES, "not_found", "identity_disabled"]),
  },
});

const VerifyContextSchema = z
  .strictObject({
    // One string schema, not a union of ipv4 and ipv6 (the document would show two identical
    // `format: ip` branches); the refinement accepts what the union did.
    ip: z
      .string()
      .refine((text) => z.ipv4().safeParse(text).success || z.ipv6().safeParse(text).success, "must be an IP address")
      .optional()
      .openapi({ description: "The end user's IP address (IPv4 or IPv6)", format: "ip" }),
    ua: plainText(0, 1024).optional().openapi({ description: "The end user's user agent" }),
  })
  .optional()
  .openapi({ description: "Recorded on the session and the audit event" });

const verify = createRoute({
  method: "post",
  path: "/otp/verify",
  operationId: "verifyCode",
  tags: ["mfa"],
  summary: "Verify a 6-digit TOTP code or a one-time backup code (idp:write)",
  security,
  middleware: [requireScope("idp:write"), jsonBody] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z.strictObject({
            otp: z.strictObject({
              id: ExternalIdSchema,
              code: z.string().max(64).openapi({ example: "552192" }),
            }),
            context: VerifyContextSchema,
          }),
        },
      },
    },
  },
  responses: {
    200: {
      description: "Authentication successful.",
      content: {
        "application/json": {
          schema: z.object({
            status: z.literal("success"),
            id: z.string(),
            message: z.literal("OTP verified successfully."),
            method: z.enum(["totp", "backup_code"]),
            session: z.object({
              id: z.string(),
              token: z.string().openapi({ description: "Opaque; introspect it with POST /v1/idp/sessions/introspect" }),
              expires_at: z.string(),
            }),
            backup_codes_remaining: z.number().int(),
          }),
        },
      },
    },
    ...errorResponses([
      ...API_KEY_CODES,
      ...BODY_CODES,
      "not_found",
      "invalid_code",
      "code_reused",
      "locked",
      "mfa_not_configured",
      "identity_disabled",
    ]),
  },
});

/** Every verify outcome but success, as the one error it is. */
function verifyFailure(outcome: Exclude<VerifyOutcome, { result: "success" }>, nowMs: number): ApiError {
  switch (outcome.result) {
    case "invalid_code":
    case "code_reused":
      return new ApiError(outcome.result, {
        failed_attempts: outcome.failedAttempts,
        attempts_remaining: outcome.attemptsRemaining,
      });
    case "locked": {
      const headers: Record<string, string> = {};
      if (outcome.lockedUntil !== null) {
        const seconds = Math.max(1, Math.ceil((Date.parse(outcome.lockedUntil) - nowMs) / 1000));
        headers["Retry-After"] = String(seconds);
      }
      return new ApiError(
        "locked",
        { locked_until: outcome.lockedUntil, failed_attempts: outcome.failedAttempts },
        { headers },
      );
    }
    case "not_configured":
      return new ApiError("mfa_not_configured");
    case "disabled":
    case "not_found":
      return refusal(outcome.result);
  }
}

export const otpRoutes = new OpenAPIHono<AppEnv>({ defaultHook })
  .openapi(enrol, async (c) => {
    const { externalUserId } = c.req.valid("query");
    const { otp } = c.req.valid("json");
    const caller = c.get("caller");
    const secret = generateTotpSecret();
    const sealed = await sealSecret(totpKeyring(c.env), secret, totpSealingContext(caller.companyId, externalUserId));
    const result = await identityGuard(c.env, caller.companyId, externalUserId).enrolTotp(
      sealed,
      otp.confirm,
      Date.now(),
      {
        actor: caller.keyId,
        requestId: c.get("requestId"),
      },
    );
    if (result.result !== "enrolled") throw refusal(result.result);
    return c.json(
      {
        user: {
          external_id: externalUserId,
          new_otp_secret: secret,
          qrcode_payload: keyUri({ secret, issuer: otp.issuer_name, account: otp.account_name }),
          is_setup_complete: !otp.confirm,
        },
      },
      201,
    );
  })
  .openapi(verify, async (c) => {
    const { otp, context } = c.req.valid("json");
    const caller = c.get("caller");
    const nowMs = Date.now();
    const outcome = await identityGuard(c.env, caller.companyId, otp.id).verifyCode(otp.code, nowMs, {
      actor: caller.keyId,
      requestId: c.get("requestId"),
      ip: context?.ip ?? null,
      userAgent: context?.ua ?? null,
    });
    if (outcome.result !== "success") throw verifyFailure(outcome, nowMs);
    const { session } = outcome;
    const token = await signSessionToken(
      {
        sid: session.id,
        cid: caller.companyId,
        iid: session.identityId,
        ext: otp.id,
        issuedAtMs: session.issuedAtMs,
        expiresAtMs: session.expiresAtMs,
        mfaVerifiedAtMs: session.mfaVerifiedAtMs,
      },
      sessionKeyring(c.env),
    );
    return c.json(
      {
        status: "success" as const,
        id: otp.id,
        message: "OTP verified successfully." as const,
        method: outcome.method,
        session: { id: session.id, token, expires_at: isoTime(session.expiresAtMs) },
        backup_codes_remaining: outcome.backupCodesRemaining,
      },
      200,
    );
  });
