import type { MiddlewareHandler } from "hono";
import { constantTimeEqual } from "../domain/secrets";
import { ApiError } from "../errors";
import type { AppEnv } from "./context";

/**
 * Admin routes take `Authorization: Bearer <token>`, one of the comma-separated tokens of
 * ADMIN_TOKEN (so a token rotates without downtime: add the new one, move callers, remove the
 * old), each compared in constant time, all of them every time. Without an ADMIN_TOKEN
 * configured they do not exist (404), so a deployment that forgot the secret exposes nothing.
 */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const tokens = adminTokens(c.env.ADMIN_TOKEN);
  if (tokens.length === 0) throw new ApiError("not_found");
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer (\S+)$/i.exec(header.trim());
  const presented = match?.[1] ?? "";
  let accepted = false;
  for (const token of tokens) accepted = constantTimeEqual(presented, token) || accepted;
  if (!accepted) throw new ApiError("unauthorized", {}, { message: "Missing or wrong admin token" });
  await next();
};

/** The configured admin tokens: ADMIN_TOKEN split on commas, blanks dropped. */
export function adminTokens(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}
