import { decodeBase64Url, encodeBase64Url } from "../domain/base64";
import { ApiError } from "../errors";

/** The audit listing's page cursor: the last event's time and id, as opaque base64url JSON. */
export type Cursor = { createdAt: string; id: string };

export function encodeCursor(cursor: Cursor): string {
  return encodeBase64Url(new TextEncoder().encode(JSON.stringify([cursor.createdAt, cursor.id])));
}

export function decodeCursor(value: string): Cursor {
  const bytes = decodeBase64Url(value);
  try {
    const parsed: unknown = bytes ? JSON.parse(new TextDecoder().decode(bytes)) : null;
    if (Array.isArray(parsed) && typeof parsed[0] === "string" && typeof parsed[1] === "string") {
      return { createdAt: parsed[0], id: parsed[1] };
    }
  } catch {
    // falls through to the validation error below
  }
  throw new ApiError("invalid_request", { details: [{ path: "cursor", message: "Invalid cursor" }] });
}
