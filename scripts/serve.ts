// A tiny static file server on 127.0.0.1 for the demo: bun scripts/serve.ts DIR PORT
import { join, normalize } from "node:path";

const [dir, port] = [process.argv[2] ?? ".", Number(process.argv[3] ?? 8471)];
Bun.serve({
  hostname: "127.0.0.1",
  port,
  fetch(req) {
    const path = normalize(decodeURIComponent(new URL(req.url).pathname)).replace(/^(\.\.[/\\])+/, "");
    const file = Bun.file(join(dir, path));
    return file.exists().then((ok) => (ok ? new Response(file) : new Response("not found", { status: 404 })));
  },
});
console.log(`serving ${dir} on http://127.0.0.1:${port}/`);
