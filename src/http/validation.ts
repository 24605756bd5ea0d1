import type { Hook } from "@hono/zod-openapi";
import { ApiError } from "../errors";
import type { AppEnv } from "./context";

/**
 * Turns a failed zod validation into `400 invalid_request` with `details: [{path, message}]`,
 * one entry per problem: an object with unknown fields gives one entry naming each field.
 */
export const defaultHook: Hook<any, AppEnv, any, any> = (result) => {
  if (result.success) return;
  const details = result.error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ path: [...path, key].join("."), message: "unknown field" }));
    }
    return [{ path: path.join("."), message: issue.message }];
  });
  throw new ApiError("invalid_request", { details });
};
