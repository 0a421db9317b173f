// Opening a local file otter reads (a file:// manifest, a local update file): never blocks
// and reads regular files only, so a FIFO or a device node cannot hang otter (an open of a
// FIFO waits for a writer; SIGTERM could not stop it) or feed it endless bytes.
import { constants, type Stats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";

function kindOf(st: Stats): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isDirectory()) return "a directory";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  return "a special file";
}

/** Open `path` for reading (open errors are thrown as they come); `refuse(why)` makes the error for anything but a regular file. */
export async function openRegularFile(path: string, refuse: (why: string) => Error): Promise<FileHandle> {
  const f = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const st = await f.stat();
  if (!st.isFile()) {
    await f.close();
    throw refuse(`${path} is ${kindOf(st)}, not a regular file`);
  }
  return f;
}
