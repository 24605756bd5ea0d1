#!/usr/bin/env node
// Part of `npm test`: builds the Worker exactly as `wrangler deploy --minify` would
// (`--dry-run --outdir`, no account needed) and fails if it does not build or if, gzipped, it
// exceeds the Workers Free plan's 3 MB limit on a Worker's compressed size ("Worker size",
// Workers platform limits; the Paid plan allows 10 MB). Prints the sizes the README states.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const LIMIT_BYTES = 3 * 1024 * 1024;
const outdir = mkdtempSync(join(tmpdir(), "hld-bundle-"));
try {
  const build = spawnSync("node_modules/.bin/wrangler", ["deploy", "--dry-run", "--minify", "--outdir", outdir], {
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  if (build.status !== 0) {
    console.error(build.stdout, build.stderr);
    console.error("bundle: wrangler deploy --dry-run failed");
    process.exit(1);
  }
  const code = readFileSync(join(outdir, "index.js"));
  const gzipped = gzipSync(code).length;
  const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
  console.log(`bundle: ${kib(code.length)} minified, ${kib(gzipped)} gzipped (limit ${kib(LIMIT_BYTES)} gzipped)`);
  if (gzipped > LIMIT_BYTES) {
    console.error("bundle: over the Workers Free plan's compressed size limit");
    process.exit(1);
  }
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
