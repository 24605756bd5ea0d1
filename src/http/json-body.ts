import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors";
import { jsonStringProblems } from "./boundary";
import type { AppEnv } from "./context";

export const MAX_BODY_BYTES = 16 * 1024;

/**
 * Reads a request body by the API's rules and hands the route's validator a plain JSON
 * request: a body is JSON when Content-Type is absent, `application/json`, `+json` or
 * `text/plain` (a browser's fetch sends a string body as text/plain unless told otherwise); any other
 * type is 415; over 16 KiB is 413; not JSON is 400 `invalid_json`; a string breaking the
 * boundary rules (`boundary.ts`) is 400 `invalid_request`; an empty body is `{}` so routes
 * without required fields accept it.
 */
export const jsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const raw = c.req.raw;
  const contentType = raw.headers.get("content-type");
  if (contentType !== null && !isJsonLike(contentType)) throw new ApiError("unsupported_media_type");

  const declaredLength = Number(raw.headers.get("content-length") ?? "0");
  if (declaredLength > MAX_BODY_BYTES) throw new ApiError("payload_too_large");
  const bytes = await readLimited(raw.body, MAX_BODY_BYTES);
  if (bytes === null) throw new ApiError("payload_too_large");

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError("invalid_json");
  }
  if (text.trim() === "") text = "{}";
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError("invalid_json");
  }
  const problems = jsonStringProblems(parsed);
  if (problems.length > 0) throw new ApiError("invalid_request", { details: problems });

  const headers = new Headers(raw.headers);
  headers.set("content-type", "application/json");
  headers.delete("content-length");
  c.req.raw = new Request(raw.url, { method: raw.method, headers, body: text });
  await next();
};

function isJsonLike(contentType: string): boolean {
  const mediaType = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return (
    mediaType === "" ||
    mediaType === "application/json" ||
    mediaType === "text/plain" ||
    /^application\/[a-z0-9.+-]+\+json$/.test(mediaType)
  );
}

/** The body's bytes, or null as soon as it passes `limit` (a lying Content-Length cannot get past it). */
async function readLimited(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array | null> {
  if (body === null) return new Uint8Array();
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
