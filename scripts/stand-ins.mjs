#!/usr/bin/env node
// `npm run stand-ins [-- --port 8790]`: serves the local stand-ins of Microsoft Graph (and its
// token endpoint), Okta and Google's Directory API (and its token endpoint) that the tests use
// (test/stand-ins/providers.ts), for trying connectors by hand against `npm run dev`. Each
// checks every request as the provider documents it; see the README's "Connectors" section.
// Loopback only. Stops on Ctrl-C.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const args = process.argv.slice(2);
const i = args.indexOf("--port");
const port = i === -1 ? 8790 : Number(args[i + 1]);
const out = join(mkdtempSync(join(tmpdir(), "hld-stand-ins-")), "providers.mjs");
await build({
  entryPoints: ["test/stand-ins/providers.ts"],
  outfile: out,
  platform: "node",
  format: "esm",
  bundle: true,
});
const { startStandIns } = await import(pathToFileURL(out).href);
await startStandIns(port);
console.log(
  `stand-ins on http://127.0.0.1:${port}/t/<any name>/ (entra, login, okta, google, google-token); Ctrl-C stops`,
);
