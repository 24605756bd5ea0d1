#!/usr/bin/env node
// `npm run docs-walk [-- --file README.md,docs/API.md --port N --stand-ins-port N --timeout 300]`
//
// Runs the curl blocks of README.md and docs/API.md against a Worker it starts itself, so the
// documented requests and answers cannot drift from the code. It:
//   1. starts `npm run dev` on 127.0.0.1:<port> with a state directory of its own, and the
//      providers' stand-ins (`npm run stand-ins`) on <stand-ins-port>. A port not given (--port,
//      --stand-ins-port, --inspector-port for wrangler's inspector) is one the OS says is free,
//      so it can run beside anything else (inside `npm test`); a port given must be free;
//   2. takes, file by file in the order given, every ```sh block preceded by the line
//      `<!-- walk -->`, in document order;
//   3. runs each file's blocks in one bash process of its own (`set -e`), with B (the Worker),
//      P (the stand-ins) and ADMIN_TOKEN in its environment, one step at a time. A step is the
//      code up to an expectation; its output (stdout and stderr) must match the expectation, and
//      a step with no expectation (the end of a block) must print nothing. README.md goes first:
//      docs/API.md's last step floods unknown keys until its address is rate limited;
//   4. checks that docs/API.md's Routes and Errors tables say what GET /v1/openapi.json says;
//   5. stops both servers and its bash and deletes everything it wrote outside the repository
//      (state, log, the stand-ins' build, miniflare's scratch files) whatever happens, on a
//      failure, a timeout or a signal too. It exits 0 when every step matched, 1 on the first
//      mismatch (naming the file, the line, the block and the command, then the tail of the
//      server log), on a command that failed, or when the whole run passes --timeout seconds
//      (default 300; a step has 60).
//
// An expectation is a comment under the code: `# => ` and the expected output line. Several
// `# => ` lines expect several output lines. A comment line right below one that starts with
// `#` and two or more spaces continues it (joined with nothing, for long JSON). In an
// expectation `...` stands for any text (on one line or more); everything else is literal, and
// the whole output must match, so a field added or renamed fails the walk.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, killGroupNow, LocalServer, option, sleep } from "./lib/local-server.mjs";

const files = option("file", "README.md,docs/API.md").split(",");
/** The file whose Routes and Errors tables are checked against the OpenAPI document. */
const CONTRACT = "docs/API.md";
const timeoutSeconds = Number(option("timeout", "300"));
const STEP_TIMEOUT_MS = 60_000;
const LOG_TAIL_LINES = 40;

/** The walk's steps, in document order: each with its block's heading, its line and its expectation. */
function walkSteps(markdown, file) {
  const lines = markdown.split("\n");
  const steps = [];
  let heading = "(top)";
  let blocks = 0;
  let fenced = false; // inside a code block that is not walked (its `# ...` lines are no headings)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("```")) fenced = !fenced;
    if (fenced) continue;
    if (/^#{1,6} /.test(line)) heading = line.replace(/^#+ /, "");
    if (line.trim() !== "<!-- walk -->") continue;
    let open = i + 1;
    while (open < lines.length && lines[open].trim() === "") open++;
    if (lines[open] !== "```sh") throw new Error(`${file}:${i + 1}: <!-- walk --> is not followed by a \`\`\`sh block`);
    blocks++;
    let step = null;
    let inExpectation = false;
    const finish = () => {
      if (step && (step.expect !== null || step.code.some((l) => l.trim() !== "" && !l.trim().startsWith("#")))) {
        steps.push(step);
      }
      step = null;
    };
    let j = open + 1;
    for (; j < lines.length && lines[j] !== "```"; j++) {
      const text = lines[j];
      const expectation = /^# => ?(.*)$/.exec(text);
      if (expectation) {
        if (!step) throw new Error(`${file}:${j + 1}: an expectation with no command above it`);
        step.expect = [...(step.expect ?? []), expectation[1]];
        inExpectation = true;
      } else if (inExpectation && /^# {2,}\S/.test(text)) {
        step.expect[step.expect.length - 1] += text.replace(/^# +/, "");
      } else {
        if (inExpectation) finish();
        inExpectation = false;
        step ??= { heading, block: blocks, line: j + 1, code: [], expect: null };
        if (step.code.length === 0 && text.trim() === "") step.line = j + 2;
        else step.code.push(text);
      }
    }
    if (j === lines.length) throw new Error(`${file}:${open + 1}: the walk block is not closed`);
    finish();
    i = j;
  }
  return { steps, blocks };
}

/** The expectation as an anchored regular expression: `...` is any text, the rest literal. */
function expectationPattern(expect) {
  const literal = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${expect.join("\n").split("...").map(literal).join("[\\s\\S]*?")}$`);
}

/**
 * What the Worker's own OpenAPI document says that the markdown must say too: every operation is
 * a row of the "Routes" table (and no row is more), with its auth (none, admin, or the scope the
 * operation's summary names) and its 2xx statuses; and every error code the document lists is a
 * row of the "Errors" table with its status and its message (the registry's, in backticks).
 */
function contractProblems(markdown, openapi) {
  const problems = [];
  const section = (title) => markdown.split(/^## /m).find((s) => s.startsWith(`${title}\n`)) ?? "";
  const operations = new Map();
  for (const [path, methods] of Object.entries(openapi.paths ?? {})) {
    for (const [method, operation] of Object.entries(methods))
      operations.set(`${method.toUpperCase()} ${path}`, operation);
  }

  const listed = new Set();
  const rows = section("Routes").matchAll(/^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| ([^|]+) \| ([^|]+) \|$/gm);
  for (const [, method, written, authCell, answersCell] of rows) {
    const key = `${method} ${written.replace(/\?.*$/, "").replace(/:(\w+)/g, "{$1}")}`;
    listed.add(key);
    const operation = operations.get(key);
    if (!operation) {
      problems.push(`Routes table: ${key} is not in GET /v1/openapi.json`);
      continue;
    }
    const scheme = Object.keys(operation.security?.[0] ?? {})[0] ?? "none";
    const scope = /\((\w+:\w+)\)$/.exec(operation.summary ?? "")?.[1];
    const auth = authCell.trim();
    const authOk =
      scheme === "none"
        ? auth === "none"
        : scheme === "adminToken"
          ? auth === "admin"
          : scope
            ? auth === `\`${scope}\``
            : /^`\w+:\w+`$/.test(auth);
    if (!authOk) problems.push(`Routes table: ${key} says ${auth}; the document: ${scope ?? scheme}`);
    const served = Object.keys(operation.responses ?? {}).filter((s) => /^2/.test(s));
    const written2xx = [...answersCell.matchAll(/\b(2\d\d)\b/g)].map((m) => m[1]);
    if (served.sort().join() !== written2xx.sort().join()) {
      problems.push(`Routes table: ${key} answers ${written2xx.join(", ")}; the document: ${served.join(", ")}`);
    }
  }
  for (const key of operations.keys()) {
    if (!listed.has(key)) problems.push(`Routes table: ${key} is served but not listed`);
  }

  const schemas = openapi.components?.schemas ?? {};
  const codes = new Map();
  const collect = (node, status) => {
    if (Array.isArray(node)) {
      for (const element of node) collect(element, status);
      return;
    }
    if (node === null || typeof node !== "object") return;
    if (typeof node.$ref === "string") {
      const schema = schemas[node.$ref.replace("#/components/schemas/", "")];
      const code = schema?.properties?.code?.enum?.[0] ?? schema?.properties?.code?.const;
      if (typeof code === "string") {
        const entry = codes.get(code) ?? { message: schema.description, statuses: new Set() };
        entry.statuses.add(status);
        codes.set(code, entry);
      }
      return;
    }
    for (const value of Object.values(node)) collect(value, status);
  };
  for (const operation of operations.values()) {
    for (const [status, response] of Object.entries(operation.responses ?? {})) {
      if (!/^2/.test(status)) collect(response, status);
    }
  }
  const errorRows = new Map();
  for (const [, status, code, message] of section("Errors").matchAll(/^\| (\d{3}) \| `(\w+)` \| ([^|]+) \|/gm)) {
    errorRows.set(code, { status, message });
  }
  for (const [code, { message, statuses }] of codes) {
    const row = errorRows.get(code);
    if (!row) problems.push(`Errors table: \`${code}\` is in the document but not in the table`);
    else if (![...statuses].every((s) => s === row.status)) {
      problems.push(`Errors table: \`${code}\` is ${row.status}; the document: ${[...statuses].join(", ")}`);
    } else if (message && !row.message.includes(`\`${message}\``)) {
      problems.push(`Errors table: \`${code}\` does not quote its message \`${message}\``);
    }
  }
  for (const [code, row] of errorRows) {
    if (!codes.has(code) && row.status !== "500") problems.push(`Errors table: \`${code}\` is not in the document`);
  }
  return problems;
}

/** Output as compared: no carriage returns, no trailing blanks on a line, no trailing blank lines. */
function normalized(output) {
  return output
    .replace(/\r/g, "")
    .split("\n")
    .map((l) => l.trimEnd())
    .join("\n")
    .trimEnd();
}

/** One bash process fed step by step; each step's output ends at a marker carrying its status. */
class Shell {
  constructor(env) {
    this.marker = `__docs_walk_${process.pid}_${Date.now()}__`;
    this.buffer = "";
    this.waiting = null;
    this.child = spawn("bash", ["--noprofile", "--norc"], {
      stdio: ["pipe", "pipe", "pipe"],
      env,
      detached: true,
    });
    const take = (chunk) => {
      this.buffer += chunk.toString("utf8");
      this.settle();
    };
    this.child.stdout.on("data", take);
    this.child.stderr.on("data", take);
    this.exit = null;
    this.child.on("exit", (code, signal) => {
      this.exit = { code, signal };
      this.settle();
    });
    this.child.stdin.write("set -e\nexec 2>&1\n");
  }

  settle() {
    if (!this.waiting) return;
    const at = this.buffer.indexOf(`${this.marker} `);
    if (at !== -1) {
      const end = this.buffer.indexOf("\n", at);
      if (end === -1) return;
      const status = Number(this.buffer.slice(at + this.marker.length + 1, end));
      const output = this.buffer.slice(0, at);
      this.buffer = this.buffer.slice(end + 1);
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ output, status, exited: false });
    } else if (this.exit) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ output: this.buffer, status: this.exit.code ?? 128, exited: true });
    }
  }

  /** Runs `code`; resolves with its output and the status of its last command (or bash's, if it exited). */
  run(code, timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`no answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting = {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
      };
      if (this.exit) return this.settle();
      this.child.stdin.write(`${code}\nprintf '\\n%s %s\\n' '${this.marker}' "$?"\n`);
    });
  }

  stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(-this.child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * The providers' stand-ins (`npm run stand-ins`) as their own process group, like LocalServer;
 * TMPDIR points into the run's directory, so the build it writes goes with it.
 */
class StandIns {
  constructor(port, logPath, tmp) {
    this.port = port;
    this.base = `http://127.0.0.1:${port}`;
    this.logPath = logPath;
    this.tmp = tmp;
    this.child = null;
  }

  async start(timeoutMs = 60_000) {
    this.child = spawn("sh", ["-c", `exec node scripts/stand-ins.mjs --port ${this.port} >>'${this.logPath}' 2>&1`], {
      detached: true,
      stdio: "ignore",
      env: { ...process.env, TMPDIR: this.tmp },
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`the stand-ins exited with ${this.child.exitCode}`);
      if (await answers(`${this.base}/t/walk/__log`)) return;
      await sleep(250);
    }
    throw new Error(`the stand-ins did not answer on ${this.base}`);
  }

  stopNow() {
    killGroupNow(this.child);
  }
}

async function answers(url) {
  try {
    await fetch(url, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

/** A port given with --NAME must be free; without it, the OS picks one (not one already picked). */
const picked = new Set();
async function portOption(name) {
  const given = option(name, null);
  if (given === null) {
    let port = await freePort();
    while (picked.has(port)) port = await freePort();
    picked.add(port);
    return port;
  }
  const port = Number(given);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`--${name} ${given} is not a port`);
  if (await answers(`http://127.0.0.1:${port}/`))
    fail(`something already answers on port ${port}; choose another --${name}`);
  picked.add(port);
  return port;
}

// Everything the run writes outside the repository lives in one directory, removed on exit.
const runDir = mkdtempSync(join(tmpdir(), "hld-docs-walk-"));
const stateDir = join(runDir, "state");
const tmpDir = join(runDir, "tmp"); // TMPDIR of the Worker and the stand-ins
const logPath = join(runDir, "server.log");
mkdirSync(tmpDir);
let server = null;
let standIns = null;
let shell = null;
process.on("exit", () => {
  shell?.stop();
  standIns?.stopNow();
  server?.stopNow();
  rmSync(runDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
});
for (const [signal, status] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
]) {
  process.on(signal, () => {
    console.error(`docs-walk: stopped by ${signal}`);
    process.exit(status);
  });
}

/**
 * The sh blocks that call the API (`curl`) with neither `<!-- walk -->` nor
 * `<!-- not walked: <reason> -->` before them, as `file:line`: a new example cannot slip past
 * the walk unnoticed.
 */
function unmarkedApiBlocks(markdown, file) {
  const lines = markdown.split("\n");
  const found = [];
  let fenced = false;
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith("```")) continue;
    fenced = !fenced;
    if (!fenced || lines[i] !== "```sh") continue;
    let end = i + 1;
    while (end < lines.length && lines[end] !== "```") end++;
    const callsApi = lines.slice(i + 1, end).some((line) => /(^|[\s$(])curl\s/.test(line.replace(/(^|\s)#.*$/, "")));
    let before = i - 1;
    while (before >= 0 && lines[before].trim() === "") before--;
    const marker = before >= 0 ? lines[before].trim() : "";
    const marked = marker === "<!-- walk -->" || /^<!-- not walked: \S.*-->$/.test(marker);
    if (callsApi && !marked) found.push(`${file}:${i + 1}`);
    fenced = false;
    i = end;
  }
  return found;
}

function fail(message) {
  console.error(`docs-walk: FAIL: ${message}`);
  if (existsSync(logPath)) {
    const lines = readFileSync(logPath, "utf8").trimEnd().split("\n");
    console.error(`docs-walk: the last ${Math.min(lines.length, LOG_TAIL_LINES)} lines of the server log:`);
    console.error(indent(lines.slice(-LOG_TAIL_LINES).join("\n")));
  }
  process.exit(1);
}

/** Runs one file's steps in a bash of its own; fails on the first mismatch, naming the file. */
async function walk(file, steps) {
  shell = new Shell({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: "C.UTF-8",
    B: server.base,
    P: standIns.base,
    ADMIN_TOKEN: server.adminToken(),
  });
  for (const step of steps) {
    // The step's name: its first line that is neither a comment, an assignment nor a one-line
    // function definition (so, the request).
    const code = step.code.filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
    const command = code.find((l) => !/^[A-Za-z_][A-Za-z0-9_]*(=|\(\) \{.*\}$)/.test(l)) ?? code[0] ?? "";
    const where = `${file}:${step.line}, "${step.heading}" (block ${step.block}): ${command.trim()}`;
    const stepStarted = Date.now();
    let result;
    try {
      result = await shell.run(step.code.join("\n"), STEP_TIMEOUT_MS);
    } catch (error) {
      fail(`${where}\n  ${error.message}`);
    }
    const output = normalized(result.output);
    if (result.exited || result.status !== 0) {
      fail(
        `${where}\n  ${result.exited ? "bash exited" : "the last command failed"} with status ${result.status}; output:\n${indent(output)}`,
      );
    }
    if (step.expect === null) {
      if (output !== "") fail(`${where}\n  printed output with no "# =>" expectation under it:\n${indent(output)}`);
    } else if (!expectationPattern(step.expect).test(output)) {
      fail(`${where}\n  expected:\n${indent(step.expect.join("\n"))}\n  got:\n${indent(output)}`);
    }
    console.log(`  ok ${String(Date.now() - stepStarted).padStart(5)} ms  ${file}:${step.line} ${command.trim()}`);
  }
  shell.stop();
  shell = null;
}

async function main() {
  const started = Date.now();
  setTimeout(() => fail(`the run passed its timeout of ${timeoutSeconds} s`), timeoutSeconds * 1000).unref();
  const docs = [];
  for (const file of files) {
    const markdown = readFileSync(file, "utf8");
    let parsed;
    try {
      parsed = walkSteps(markdown, file);
    } catch (error) {
      fail(error.message);
    }
    if (parsed.steps.length === 0) fail(`${file} has no <!-- walk --> blocks`);
    const unmarked = unmarkedApiBlocks(markdown, file);
    if (unmarked.length > 0) {
      fail(
        `${unmarked.join(", ")}: a sh block calling the API must be walked (<!-- walk -->) or say why not (<!-- not walked: reason -->)`,
      );
    }
    docs.push({ file, markdown, ...parsed });
  }

  const port = await portOption("port");
  const standInsPort = await portOption("stand-ins-port");
  server = new LocalServer({
    port,
    persistTo: stateDir,
    logPath,
    args: ["--inspector-port", String(await portOption("inspector-port"))],
    env: { TMPDIR: tmpDir }, // miniflare's scratch directory, left behind when it is killed
  });
  standIns = new StandIns(standInsPort, logPath, tmpDir);
  console.log(`docs-walk: ${docs.map((d) => `${d.steps.length} steps in ${d.blocks} blocks of ${d.file}`).join(", ")}`);
  await Promise.all([server.start(), standIns.start()]);
  console.log(`docs-walk: Worker on ${server.base}, stand-ins on ${standIns.base} (${Date.now() - started} ms)`);

  const contract = docs.find((d) => d.file === CONTRACT);
  if (contract) {
    const openapi = await (await fetch(`${server.base}/v1/openapi.json`)).json();
    const problems = contractProblems(contract.markdown, openapi);
    if (problems.length > 0) fail(`${CONTRACT} and GET /v1/openapi.json disagree:\n${indent(problems.join("\n"))}`);
    console.log(`docs-walk: ${CONTRACT}'s Routes and Errors tables match GET /v1/openapi.json`);
  }

  for (const { file, steps } of docs) await walk(file, steps);
  await server.stop("SIGTERM");
  standIns.stopNow();
  const count = docs.reduce((n, d) => n + d.steps.length, 0);
  console.log(
    `docs-walk: PASS: ${count} steps of ${docs.map((d) => d.file).join(" and ")} matched in ${Math.round((Date.now() - started) / 1000)} s`,
  );
  process.exit(0);
}

function indent(text) {
  return text
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}

main().catch((error) => fail(error.stack ?? String(error)));
