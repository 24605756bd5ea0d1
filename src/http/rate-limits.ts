import { ApiError } from "../errors";

/**
 * Rate limits, with the Workers Rate Limiting binding (counters kept at the Cloudflare location
 * that serves the request; `[[ratelimits]]` in wrangler.toml sets each limit and its period):
 * - `KEY_LOOKUP_LIMIT`, per client IP: API key checks that miss the isolate's key cache and so
 *   read D1. A flood of random keys costs at most this many D1 reads per IP and period; past it
 *   the answer is 429 before D1 is asked. A real key misses the cache once per isolate and
 *   30 seconds, far below the limit.
 * - `API_KEY_LIMIT`, per API key, and `CLIENT_IP_LIMIT`, per client IP: every request of the
 *   authenticated routes, once the key is known.
 * A refused request answers `429 rate_limited` with `Retry-After`: the limiter's period (the
 * binding does not say when its window ends, and a window is at most one period long).
 */
export type Limiter = "key_lookup" | "api_key" | "client_ip";

/** Seconds per window; must equal `simple.period` of the binding in wrangler.toml (a test checks). */
export const LIMIT_PERIOD_SECONDS: Record<Limiter, 10 | 60> = { key_lookup: 60, api_key: 10, client_ip: 10 };

export const LIMIT_BINDINGS = {
  key_lookup: "KEY_LOOKUP_LIMIT",
  api_key: "API_KEY_LIMIT",
  client_ip: "CLIENT_IP_LIMIT",
} as const satisfies Record<Limiter, string>;

export type RateLimitBindings = { [B in (typeof LIMIT_BINDINGS)[Limiter]]: RateLimit };

/**
 * The client's address as Cloudflare's edge sets it (a client cannot choose it there). Absent
 * only off the edge (a test calling the Worker directly): those requests share one bucket.
 */
export function clientIp(request: Request): string {
  return request.headers.get("cf-connecting-ip") ?? "unknown";
}

/**
 * Counts one request against `limiter` under `key`; throws 429 past the limit. Fails open: if
 * the limiter itself errors, the request goes on (and the failure is logged), since refusing
 * every login of every platform is worse than an unmetered minute.
 */
export async function enforceLimit(
  env: RateLimitBindings,
  limiter: Limiter,
  key: string,
  requestId: string,
): Promise<void> {
  let outcome: RateLimitOutcome;
  try {
    outcome = await env[LIMIT_BINDINGS[limiter]].limit({ key: `${limiter}:${key}` });
  } catch (error) {
    console.error(
      JSON.stringify({
        level: "error",
        request_id: requestId,
        msg: "rate limiter failed",
        limiter,
        error: String(error),
      }),
    );
    return;
  }
  if (outcome.success) return;
  console.log(JSON.stringify({ level: "warn", request_id: requestId, msg: "rate limited", limiter }));
  throw new ApiError("rate_limited", {}, { headers: { "Retry-After": String(LIMIT_PERIOD_SECONDS[limiter]) } });
}
