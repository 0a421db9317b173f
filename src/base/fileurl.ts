// A file:// URL names a file on this device: file:///PATH (file://localhost/PATH is the
// same URL). Node's fileURLToPath throws a runtime TypeError for any other host or for an
// encoded "/"; every caller goes through here, so the line names the URL and what to write.
import { fileURLToPath } from "node:url";
import { shownUrl } from "./printable.ts";

/** The path a file: URL names; throws `fail(why)`, `why` naming the URL, when it names none (a host, an encoded "/"). */
export function filePath(url: string | URL, fail: (why: string) => Error): string {
  const given = shownUrl(String(url));
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw fail(`${given} is not a valid URL; a file:// URL names a file on this device: file:///PATH`);
  }
  if (u.hostname !== "") throw fail(`${given} names host ${u.hostname}; a file:// URL names a file on this device: file:///PATH`);
  if (/%2f/i.test(u.pathname)) throw fail(`${given} has an encoded "/" (%2F) in its path; write the path with plain "/"`);
  return fileURLToPath(u);
}
