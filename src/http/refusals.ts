import { ApiError } from "../errors";
import type { IdentityRefusal } from "../identity/types";

/** The error for an identity that does not exist (for this company) or is disabled. */
export function refusal(result: IdentityRefusal["result"]): ApiError {
  return result === "not_found"
    ? new ApiError("not_found", {}, { message: "Identity not found" })
    : new ApiError("identity_disabled");
}
