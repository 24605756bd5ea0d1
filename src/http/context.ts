import type { Env } from "../config/env";

export type Scope = "idp:read" | "idp:write" | "sentinel:read" | "sentinel:write" | "audit:read";
export const SCOPES = ["idp:read", "idp:write", "sentinel:read", "sentinel:write", "audit:read"] as const;

/** Who is calling: the API key's id, its company and its scopes. */
export interface Caller {
  keyId: string;
  companyId: string;
  scopes: readonly Scope[];
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    caller: Caller;
  };
}
