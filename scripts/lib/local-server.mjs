// A local `npm run dev` the load and chaos runs start, stop and kill themselves: loopback only,
// its own process group (so a SIGKILL reaches wrangler and workerd and nothing else), its own
// state directory (--persist-to), its output in a log file.
import { spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { createServer } from "node:net";

export class LocalServer {
  /** @param {{ port: number, persistTo: string, logPath: string, args?: string[], env?: Record<string, string> }} options */
  constructor({ port, persistTo, logPath, args = [], env = {} }) {
    this.port = port;
    this.persistTo = persistTo;
    this.logPath = logPath;
    this.args = args; // more arguments for wrangler dev (--inspector-port ...)
    this.env = env; // more environment (TMPDIR ...)
    this.base = `http://127.0.0.1:${port}`;
    this.child = null;
    this.exited = null;
  }

  /** Starts `npm run dev` on the port and state directory, and waits until /v1/health answers. */
  async start(timeoutMs = 120_000) {
    const log = createWriteStream(this.logPath, { flags: "a" });
    const child = spawn(
      "node",
      ["scripts/dev.mjs", "--port", String(this.port), "--persist-to", this.persistTo, ...this.args],
      {
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...this.env },
      },
    );
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    this.child = child;
    this.exited = new Promise((resolve) => child.on("exit", resolve));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`npm run dev exited with ${child.exitCode} (log: ${this.logPath})`);
      try {
        if ((await fetch(`${this.base}/v1/health`, { signal: AbortSignal.timeout(2000) })).ok) return;
      } catch {
        // not up yet
      }
      await sleep(250);
    }
    throw new Error(`the server did not answer on ${this.base} (log: ${this.logPath})`);
  }

  /** The ADMIN_TOKEN `npm run dev` wrote to .dev.vars. */
  adminToken() {
    const token = /^ADMIN_TOKEN=(.*)$/m.exec(readFileSync(".dev.vars", "utf8"))?.[1];
    if (!token) throw new Error("no ADMIN_TOKEN in .dev.vars");
    return token;
  }

  /** A new company and an API key with every scope for it, through the admin routes. */
  async tenantKey(name) {
    const admin = this.adminToken();
    const company = await request(this.base, "/v1/admin/companies", { token: admin, body: { name } });
    if (company.status !== 201) throw new Error(`create company: ${company.status} ${JSON.stringify(company.body)}`);
    const created = await request(this.base, "/v1/admin/api-keys", {
      token: admin,
      body: {
        company_id: company.body.company.id,
        scopes: ["idp:read", "idp:write", "sentinel:read", "sentinel:write", "audit:read"],
      },
    });
    if (created.status !== 201) throw new Error(`create key: ${created.status} ${JSON.stringify(created.body)}`);
    return created.body.api_key.key;
  }

  /** Sends `signal` to the server's whole process group (only the group this object started). */
  async stop(signal = "SIGTERM") {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      return; // already gone
    }
    await this.exited;
    // The group's other members (wrangler, workerd) die with it; wait until the port is free.
    for (let i = 0; i < 100; i++) {
      try {
        await fetch(`${this.base}/v1/health`, { signal: AbortSignal.timeout(500) });
      } catch {
        return;
      }
      await sleep(100);
    }
    throw new Error(`the server on ${this.base} still answers after ${signal}`);
  }

  /** Stops the group synchronously (for process exit handlers). */
  stopNow() {
    killGroupNow(this.child);
  }
}

/** SIGKILLs the process group a detached child leads, unless it has ended (synchronous, for exit handlers). */
export function killGroupNow(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A small seeded PRNG (mulberry32): the same seed gives the same run plan. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A TCP port on 127.0.0.1 that nothing listens on, as the OS chose it (listen(0), then closed). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** `--name value` from argv, or the fallback. */
export function option(name, fallback) {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
}

/** One JSON request; never throws on an HTTP status, only on a network failure or a timeout. */
export async function request(base, path, { method, token, body, rawBody, headers = {}, timeoutMs = 15_000 } = {}) {
  const init = {
    method: method ?? (body !== undefined || rawBody !== undefined ? "POST" : "GET"),
    headers: { ...headers },
    signal: AbortSignal.timeout(timeoutMs),
  };
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] ??= "application/json";
  } else if (rawBody !== undefined) {
    init.body = rawBody;
  }
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json, headers: res.headers };
}

/** Runs `work(item)` over `items` with at most `concurrency` at once. */
export async function pool(items, concurrency, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}
