import type { Hook } from "@hono/zod-openapi";
import { ApiError } from "../errors";
import type { AppEnv } from "./context";

/** Turns a failed zod validation into `400 invalid_request` with `details: [{path, message}]`. */
export const defaultHook: Hook<any, AppEnv, any, any> = (result) => {
  if (result.success) return;
  const details = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
  throw new ApiError("invalid_request", { details });
};
