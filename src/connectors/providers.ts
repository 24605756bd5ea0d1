/**
 * What each connected identity provider is sent for each action, from the providers' published
 * APIs. Pure: a plan is a list of HTTP calls relative to the connector's base URL; the delivery
 * (deliver.ts) adds the authorization and runs them in order.
 *
 * - Entra ID, Microsoft Graph v1.0: `PATCH /users/{id}` with `accountEnabled` (update user) and
 *   `POST /users/{id}/revokeSignInSessions`.
 * - Okta Users API: `POST /api/v1/users/{id}/lifecycle/suspend` and `.../unsuspend`, and
 *   `DELETE /api/v1/users/{id}/sessions?oauthTokens=true` (clear user sessions).
 * - Google Workspace Admin SDK Directory API: `PUT /admin/directory/v1/users/{userKey}` with
 *   `suspended`, and `POST /admin/directory/v1/users/{userKey}/signOut`.
 */
export const CONNECTOR_TYPES = ["entra", "okta", "google_workspace"] as const;
export type ConnectorType = (typeof CONNECTOR_TYPES)[number];

/** The actions a connector carries; force-mfa has no provider call. */
export type DeliveredAction = "disable" | "enable" | "revoke_sessions";

export interface ProviderCall {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  /** Relative to the connector's base URL (which carries no trailing slash). */
  path: string;
  /** A JSON body, or none. */
  body: Record<string, unknown> | null;
}

/** The provider's real hosts: the defaults of a connector's base and token URLs. */
export const DEFAULT_URLS: Record<ConnectorType, { baseUrl: string | null; tokenUrl: string | null }> = {
  entra: {
    baseUrl: "https://graph.microsoft.com",
    tokenUrl: "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
  },
  // Okta's host is the organization's own: required, no default.
  okta: { baseUrl: null, tokenUrl: null },
  google_workspace: { baseUrl: "https://admin.googleapis.com", tokenUrl: "https://oauth2.googleapis.com/token" },
};

export const GOOGLE_SCOPES =
  "https://www.googleapis.com/auth/admin.directory.user https://www.googleapis.com/auth/admin.directory.user.security";
export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";

/** The calls that carry `action` for the provider's user `userKey`, in the order they are sent. */
export function planCalls(type: ConnectorType, action: DeliveredAction, userKey: string): ProviderCall[] {
  const user = encodeURIComponent(userKey);
  switch (type) {
    case "entra": {
      const patch = (enabled: boolean): ProviderCall => ({
        method: "PATCH",
        path: `/v1.0/users/${user}`,
        body: { accountEnabled: enabled },
      });
      const revoke: ProviderCall = { method: "POST", path: `/v1.0/users/${user}/revokeSignInSessions`, body: null };
      if (action === "disable") return [patch(false), revoke];
      if (action === "enable") return [patch(true)];
      return [revoke];
    }
    case "okta": {
      const clear: ProviderCall = {
        method: "DELETE",
        path: `/api/v1/users/${user}/sessions?oauthTokens=true`,
        body: null,
      };
      if (action === "disable") {
        return [{ method: "POST", path: `/api/v1/users/${user}/lifecycle/suspend`, body: null }, clear];
      }
      if (action === "enable")
        return [{ method: "POST", path: `/api/v1/users/${user}/lifecycle/unsuspend`, body: null }];
      return [clear];
    }
    case "google_workspace": {
      const suspend = (suspended: boolean): ProviderCall => ({
        method: "PUT",
        path: `/admin/directory/v1/users/${user}`,
        body: { suspended },
      });
      const signOut: ProviderCall = { method: "POST", path: `/admin/directory/v1/users/${user}/signOut`, body: null };
      if (action === "disable") return [suspend(true), signOut];
      if (action === "enable") return [suspend(false)];
      return [signOut];
    }
  }
}

/** The connector's token URL with Entra's `{tenant}` filled in. */
export function resolvedTokenUrl(tokenUrl: string, tenantId: string | undefined): string {
  return tokenUrl.replace("{tenant}", encodeURIComponent(tenantId ?? ""));
}

/**
 * What an answer means for the delivery: 2xx done; 429, 5xx (and timeouts, decided by the
 * caller) worth another try; 401/403 worth one token refresh; any other 4xx final.
 */
export type CallVerdict = "ok" | "retry" | "refresh" | "final";

export function verdictOf(status: number): CallVerdict {
  if (status >= 200 && status < 300) return "ok";
  if (status === 429 || status >= 500) return "retry";
  if (status === 401 || status === 403) return "refresh";
  return "final";
}

/** The wait before try `attempt` + 1 (exponential, capped): 2, 4, 8 ... seconds, at most 5 minutes. */
export function backoffSeconds(attempt: number): number {
  return Math.min(300, 2 ** Math.max(1, attempt));
}
