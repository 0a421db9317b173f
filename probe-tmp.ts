import { createHash } from "node:crypto";
import { openSync, writeSync, closeSync } from "node:fs";
const u: any = await import("undici/index.js");
const t0 = performance.now();
const agent = new u.Agent({});
const res = await u.request("http://127.0.0.1:18480/big.bin", { dispatcher: agent });
const h = createHash("sha256");
const fd = openSync("/tmp/bench/o.out", "w");
let n = 0;
for await (const c of res.body) { h.update(c); writeSync(fd, c); n += c.length; }
closeSync(fd);
console.log(n, h.digest("hex"), ((performance.now() - t0) / 1000).toFixed(2), "s");
