import type { MiddlewareHandler } from "hono";
import { ApiError } from "../errors";
import { containsApiKey, QUERY_KEY_NAMES } from "./api-key-auth";
import type { AppEnv } from "./context";

/**
 * The rules every string obeys at the boundary, before any route sees it:
 * - it is well-formed Unicode: no lone UTF-16 surrogate in a JSON string or key, and no
 *   percent-encoding in the URL that is not UTF-8. Storage would replace such a string with
 *   U+FFFD, so what was hashed or named would differ from what is stored: `400 invalid_request`
 *   naming the field;
 * - it holds no API key: a key-shaped value anywhere in the URL (any query parameter, name or
 *   value, any position, or a path segment) is `401` and never echoed, since URLs end up in
 *   logs; in a body it is `400` naming the field, so a key never lands in the audit trail.
 * Control characters are refused field by field (`plainText`), on every field that takes text.
 */

export interface FieldProblem {
  path: string;
  message: string;
}

const NOT_WELL_FORMED = "must be well-formed Unicode (no lone surrogates)";
const NOT_UTF8 = "must be percent-encoded UTF-8";
const HOLDS_KEY = "must not contain an API key";

/** The query string's name/value pairs as sent, `+` read as a space (application/x-www-form-urlencoded). */
function rawQueryPairs(search: string): [string, string][] {
  if (search.length <= 1) return [];
  return search
    .slice(1)
    .split("&")
    .filter((pair) => pair !== "")
    .map((pair) => {
      const equals = pair.indexOf("=");
      const [name, value] = equals === -1 ? [pair, ""] : [pair.slice(0, equals), pair.slice(equals + 1)];
      return [name.replace(/\+/g, " "), value.replace(/\+/g, " ")];
    });
}

/** The decoded text, or null when the percent-encoding is not valid UTF-8 (or a `%` is stray). */
function decodeComponent(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

export const urlBoundary: MiddlewareHandler<AppEnv> = async (c, next) => {
  const url = new URL(c.req.url);
  const pairs = rawQueryPairs(url.search).map(([rawName, rawValue]) => ({
    rawName,
    rawValue,
    name: decodeComponent(rawName),
    value: decodeComponent(rawValue),
  }));

  const keyInUrl =
    pairs.some(
      ({ rawName, rawValue, name, value }) =>
        QUERY_KEY_NAMES.includes((name ?? rawName).toLowerCase()) ||
        [rawName, rawValue, name ?? "", value ?? ""].some(containsApiKey),
    ) || url.pathname.split("/").some((segment) => containsApiKey(decodeComponent(segment) ?? segment));
  if (keyInUrl) {
    throw new ApiError("unauthorized", {}, { message: "API keys are accepted only in the Authorization header" });
  }

  const problems: FieldProblem[] = [];
  for (const { rawName, name, value } of pairs) {
    if (name === null || value === null) problems.push({ path: name ?? rawName, message: NOT_UTF8 });
  }
  if (url.pathname.split("/").some((segment) => decodeComponent(segment) === null)) {
    problems.push({ path: "path", message: NOT_UTF8 });
  }
  if (problems.length > 0) throw new ApiError("invalid_request", { details: problems });
  await next();
};

/**
 * Every string and object key of a parsed JSON body that breaks the boundary rules, with its
 * path (`user.external_id`, `items.0`), in document order. Iterative, and a path is built only
 * for a problem, so no nesting depth can exhaust the stack or the time. A path is reported in
 * well-formed text: a lone surrogate in a key shows as U+FFFD.
 */
export function jsonStringProblems(root: unknown): FieldProblem[] {
  type Node = { value: unknown; key: string | null; parent: Node | null };
  const pathOf = (node: Node): string => {
    const parts: string[] = [];
    for (let at: Node | null = node; at !== null && at.key !== null; at = at.parent) parts.push(at.key.toWellFormed());
    return parts.reverse().join(".");
  };
  const problems: FieldProblem[] = [];
  const stack: Node[] = [{ value: root, key: null, parent: null }];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const { value } = node;
    if (node.key !== null && !node.key.isWellFormed()) problems.push({ path: pathOf(node), message: NOT_WELL_FORMED });
    if (typeof value === "string") {
      if (!value.isWellFormed()) problems.push({ path: pathOf(node), message: NOT_WELL_FORMED });
      else if (containsApiKey(value)) problems.push({ path: pathOf(node), message: HOLDS_KEY });
    } else if (value !== null && typeof value === "object") {
      const children = Array.isArray(value)
        ? value.map((element, index): Node => ({ value: element, key: String(index), parent: node }))
        : Object.entries(value).map(([key, element]): Node => ({ value: element, key, parent: node }));
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i] as Node);
    }
  }
  return problems;
}
