import { describe, expect, test } from "bun:test";
import { JobInvalid } from "../../../src/base/errors.ts";
import { offerFromJob } from "../../../src/sources/jobdoc.ts";

const GOOD = { action: "upparat-update", version: "1.2.3", file: "https://s3.example.com/image.bin?X-Amz-Signature=abc", meta: "slot-b", force: false };
const SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

describe("offerFromJob accepts", () => {
  const rows: [string, unknown, Partial<ReturnType<typeof offerFromJob>>][] = [
    ["Upparat's README document", GOOD, { id: "upparat_1", source: "aws", version: "1.2.3", url: GOOD.file, meta: "slot-b", force: false }],
    ["the document as a JSON string", JSON.stringify(GOOD), { version: "1.2.3" }],
    ["no meta and no force", { action: "upparat-update", version: "2", file: "https://x/y" }, { meta: "", force: false }],
    ["meta null", { ...GOOD, meta: null }, { meta: "" }],
    ["force true", { ...GOOD, force: true }, { force: true }],
    ["force as the string True", { ...GOOD, force: "True" }, { force: true }],
    ["force as the string false", { ...GOOD, force: "false" }, { force: false }],
    ["force as an empty string", { ...GOOD, force: "" }, { force: false }],
    ["http and file URLs (allow_http is checked by the download)", { ...GOOD, file: "file:///tmp/x.bin" }, { url: "file:///tmp/x.bin" }],
    ["sha256 in upper case, lowered", { ...GOOD, sha256: SHA.toUpperCase() }, { sha256: SHA }],
    ["size", { ...GOOD, size: 1048576 }, { size: 1048576 }],
    ["signature", { ...GOOD, signature: { value: "MEUCIQ==", algorithm: "ecdsa" } }, { signature: { value: "MEUCIQ==", algorithm: "ecdsa" } }],
    ["boards", { ...GOOD, boards: ["rpi4", "rpi5"] }, { boards: ["rpi4", "rpi5"] }],
    ["archive", { ...GOOD, archive: "tar.gz" }, { archive: "tar.gz" }],
    ["unknown extra keys", { ...GOOD, comment: "hello" }, { version: "1.2.3" }],
    ["meta as an object, passed to hooks as JSON text", { ...GOOD, meta: { slot: "b" } }, { meta: '{"slot":"b"}' }],
    ["a url key does not override file", { ...GOOD, url: "https://elsewhere/x" }, { url: GOOD.file }],
  ];
  for (const [name, doc, want] of rows) {
    test(name, () => expect(offerFromJob("upparat_1", doc, "upparat_")).toMatchObject(want));
  }
});

describe("offerFromJob rejects with one line naming the field", () => {
  const rows: [string, string, unknown, RegExp][] = [
    ["an id without the prefix", "other_1", GOOD, /id must start with "upparat_"/],
    ["a document that is not JSON", "upparat_1", "{nope", /document is not JSON/],
    ["a document that is a list", "upparat_1", [GOOD], /must be a JSON object/],
    ["a wrong action", "upparat_1", { ...GOOD, action: "reboot" }, /"action": expected "upparat-update", got "reboot"/],
    ["no action", "upparat_1", { ...GOOD, action: undefined }, /"action".*got nothing/],
    ["no version", "upparat_1", { ...GOOD, version: undefined }, /"version": expected a non-empty string/],
    ["a numeric version", "upparat_1", { ...GOOD, version: 2 }, /"version".*got 2/],
    ["a version with a newline", "upparat_1", { ...GOOD, version: "1\n2" }, /"version"/],
    ["no file", "upparat_1", { ...GOOD, file: undefined }, /"file": expected a non-empty string/],
    ["an unreplaced presigned-URL placeholder", "upparat_1", { ...GOOD, file: "${aws:iot:s3-presigned-url:https://s3/x}" }, /"file": the presigned-URL placeholder was not replaced.*presignedUrlConfig/],
    ["a file that is no URL", "upparat_1", { ...GOOD, file: "image.bin" }, /"file": expected an absolute URL/],
    ["an ftp URL", "upparat_1", { ...GOOD, file: "ftp://h/x" }, /"file": expected an https/],
    ["force as a number", "upparat_1", { ...GOOD, force: 1 }, /"force": expected true or false, got 1/],
    ["force as a word", "upparat_1", { ...GOOD, force: "yes please" }, /"force"/],
    ["a short sha256", "upparat_1", { ...GOOD, sha256: "abc" }, /"sha256": expected 64 hex digits/],
    ["a negative size", "upparat_1", { ...GOOD, size: -1 }, /"size"/],
    ["a size as a string", "upparat_1", { ...GOOD, size: "12" }, /"size"/],
    ["a signature without value", "upparat_1", { ...GOOD, signature: { algorithm: "ecdsa" } }, /"signature"/],
    ["empty boards", "upparat_1", { ...GOOD, boards: [] }, /"boards"/],
    ["an unknown archive", "upparat_1", { ...GOOD, archive: "rar" }, /"archive": expected one of "gz", "tar.gz", "zip"/],
  ];
  for (const [name, id, doc, message] of rows) {
    test(name, () => {
      let err: unknown;
      try {
        offerFromJob(id, doc, "upparat_");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(JobInvalid);
      expect((err as JobInvalid).code).toBe("JOB_INVALID");
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain("\n");
    });
  }
});
