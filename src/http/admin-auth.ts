import type { MiddlewareHandler } from "hono";
import { constantTimeEqual } from "../domain/secrets";
import { ApiError } from "../errors";
import type { AppEnv } from "./context";

/**
 * Admin routes take `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time.
 * Without an ADMIN_TOKEN configured they do not exist (404), so a deployment that forgot
 * the secret exposes nothing.
 */
export const requireAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const expected = c.env.ADMIN_TOKEN;
  if (!expected) throw new ApiError("not_found");
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer (\S+)$/i.exec(header.trim());
  if (!match?.[1] || !constantTimeEqual(match[1], expected)) throw new ApiError("unauthorized");
  await next();
};
