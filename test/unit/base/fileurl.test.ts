import { expect, test } from "bun:test";
import { filePath } from "../../../src/base/fileurl.ts";

const fail = (why: string) => new Error(why);

test("filePath: file:///PATH and file://localhost/PATH name a local file; a host or an encoded / is one line saying what to write", () => {
  expect(filePath("file:///srv/updates/image.bin", fail)).toBe("/srv/updates/image.bin");
  expect(filePath("file://localhost/srv/image%20a.bin", fail)).toBe("/srv/image a.bin");
  expect(() => filePath("file://updates.example.com/image.bin", fail)).toThrow("file://updates.example.com/image.bin names host updates.example.com; a file:// URL names a file on this device: file:///PATH");
  expect(() => filePath("file:///srv%2Fimage.bin", fail)).toThrow('file:///srv%2Fimage.bin has an encoded "/" (%2F) in its path');
});
