/**
 * The Meta Graph API's address for this process: `META_GRAPH_BASE_URL` (https://graph.facebook.com)
 * and `META_GRAPH_VERSION` (v21.0). Set once at start from the configuration; tests point it at
 * their fake. Shared by Messenger, Instagram and WhatsApp Cloud API.
 */

export const META_GRAPH_DEFAULT_BASE_URL = "https://graph.facebook.com";
export const META_GRAPH_DEFAULT_VERSION = "v21.0";

let baseUrl = META_GRAPH_DEFAULT_BASE_URL;
let version = META_GRAPH_DEFAULT_VERSION;

/** Points every Graph API call of this process at `url` (and API `apiVersion` when given). */
export function useMetaGraphBaseUrl(url: string, apiVersion?: string): void {
  baseUrl = url.replace(/\/+$/, "");
  if (apiVersion) version = apiVersion;
}

/** The Graph API's base URL and version currently used. */
export function metaGraph(): { readonly baseUrl: string; readonly version: string } {
  return { baseUrl, version };
}

/** Meta's error object (`{ error: { message, type, code, error_subcode, fbtrace_id } }`). */
export interface MetaError {
  readonly message?: string;
  readonly type?: string;
  readonly code?: number;
  readonly error_subcode?: number;
  readonly fbtrace_id?: string;
}

/** The answer of a Graph API call: the HTTP status and the JSON body (undefined when not JSON). */
export interface GraphAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
}

/**
 * POSTs `body` as JSON to `{base}/{version}/{path}` with the access token as a Bearer header,
 * giving up after `timeoutMs` (an AbortError is thrown; callers treat it as transient).
 */
export async function graphPost(
  path: string,
  accessToken: string,
  body: unknown,
  opts: { readonly timeoutMs: number; readonly baseUrl?: string; readonly version?: string },
): Promise<GraphAnswer> {
  const url = `${opts.baseUrl ?? baseUrl}/${opts.version ?? version}/${path.replace(/^\/+/, "")}`;
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${accessToken}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(opts.timeoutMs),
  });
  return { status: res.status, body: await jsonOrUndefined(res), headers: res.headers };
}

/**
 * GETs `{base}/{version}/{path}?{query}` with the access token as a Bearer header, giving up after
 * `timeoutMs` (an AbortError is thrown).
 */
export async function graphGet(
  path: string,
  accessToken: string,
  query: Record<string, string>,
  opts: { readonly timeoutMs: number },
): Promise<GraphAnswer> {
  const url = `${baseUrl}/${version}/${path.replace(/^\/+/, "")}?${new URLSearchParams(query)}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${accessToken}` }, signal: AbortSignal.timeout(opts.timeoutMs) });
  return { status: res.status, body: await jsonOrUndefined(res), headers: res.headers };
}

async function jsonOrUndefined(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** The `error` object of a Graph API error body, if there is one. */
export function metaErrorOf(body: unknown): MetaError | undefined {
  const e = (body as { error?: unknown } | null | undefined)?.error;
  return e && typeof e === "object" ? (e as MetaError) : undefined;
}
