// The one filter for everything otter prints (logs, errors, reports, check-config, status,
// plan, --once lines): credentials in URLs are masked and characters that make text lie on a
// terminal are escaped. A channel or report URL may carry `user:pass@` or `?token=`, and a
// hostile document may carry bidi overrides or escape sequences; neither reaches a screen,
// a log file or a report as it came.

/** C0/C1 controls, DEL, format characters (bidi overrides, zero-width), lone surrogates,
 *  line and paragraph separators: what makes text lie on a terminal or in a log. */
export const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, "gu");

/** Every unsafe character written as \uXXXX (per UTF-16 unit, so JSON text stays valid JSON). */
export function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE_ALL, (c) => [...Array(c.length).keys()].map((i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, "0")}`).join(""));
}

// A URL in text: scheme://, userinfo up to the authority's last "@", the rest; punctuation
// that ends a sentence or a "URL: message" is not part of it.
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]*[^\s"'<>.,:;)\]]/gi;
const PARTS = /^([^:]+:\/\/)(?:([^/?#]*)@)?([^?#]*)(?:\?([^#]*))?(#.*)?$/s;
// A URL in a message: long enough to tell which, short enough to leave room for the reason.
const URL_SHOWN = 160;

// One URL (the whole string) masked, or undefined when it is no scheme://... URL.
function maskUrl(url: string): string | undefined {
  const [, scheme, userinfo, rest, query, fragment] = PARTS.exec(url) ?? [];
  if (scheme === undefined) return undefined;
  const q = query === undefined ? "" : `?${query.split("&").map((p) => (p === "" ? p : p.includes("=") ? `${p.slice(0, p.indexOf("="))}=***` : "***")).join("&")}`;
  return `${scheme}${userinfo !== undefined ? "***@" : ""}${rest}${q}${fragment === undefined || fragment === "#" ? (fragment ?? "") : "#***"}`;
}

/**
 * Every URL in `text` with its userinfo, query values and fragment replaced by ***
 * (`https://***@host/path?token=***#***`). Parameter names are kept, so check-config and
 * a log show which is set; a parameter without "=" is masked whole.
 */
export function maskUrls(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => maskUrl(url) ?? url);
}

/** A URL given alone for a message: masked as maskUrls does, read whole (a space cannot end
 *  it early), at most 160 characters. Text that is no URL (a path) is only capped and masked. */
export function shownUrl(url: string): string {
  return clip(maskUrl(url) ?? maskUrls(url), URL_SHOWN);
}

/** Text fit to print: URL credentials masked, unsafe characters escaped. */
export function printable(text: string): string {
  return escapeUnsafe(maskUrls(text));
}

/** `text` cut to at most `max` characters, ending in `marker` when it was longer (a surrogate pair is never split). */
export function clip(text: string, max: number, marker = "…"): string {
  if (text.length <= max) return text;
  let cut = max - marker.length;
  if (/[\uD800-\uDBFF]/.test(text[cut - 1] ?? "")) cut--;
  return text.slice(0, cut) + marker;
}

/** A value as JSON for a one-line message ("nothing" when absent): at most `max` characters, escaped. */
export function shown(v: unknown, max = 80): string {
  if (v === undefined) return "nothing";
  const text = JSON.stringify(v) ?? String(v);
  return escapeUnsafe(text.length > max ? `${text.slice(0, max)}…` : text);
}
