import { and, eq, lt, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { decodeBase64Url, encodeBase64Url } from "../domain/base64";
import { ApiError } from "../errors";

/** The page cursor of newest-first listings (events, assessments, incidents, companies, API keys): the last row's time and id, as opaque base64url JSON. */
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

/** The rows after `cursorText` in (created_at, id) descending order. */
export function olderThan(columns: { createdAt: SQLiteColumn; id: SQLiteColumn }, cursorText: string): SQL | undefined {
  const cursor = decodeCursor(cursorText);
  return or(
    lt(columns.createdAt, cursor.createdAt),
    and(eq(columns.createdAt, cursor.createdAt), lt(columns.id, cursor.id)),
  );
}

/** A page of `limit` from `rows` (fetched with limit + 1), and the cursor of the next page if there is one. */
export function pageOf<Row extends Cursor>(rows: Row[], limit: number): { page: Row[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    page,
    nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
  };
}
