// The runtime's floor for `npm run bench`: a bare Hono "hello" Worker, served by its own
// `wrangler dev` beside the service, and the floor of provisioning: a new Durable Object that
// writes one row (what any per-identity design pays for a new identity, whatever else it does).
// Nothing here is part of the service.
import { DurableObject } from "cloudflare:workers";
import { Hono } from "hono";

export class Bare extends DurableObject {
  async create(name) {
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY)");
    this.ctx.storage.sql.exec("INSERT INTO t (id) VALUES (?)", name);
    return name;
  }
}

const app = new Hono();
app.get("/", (c) => c.text("hello"));
app.post("/objects/:name", async (c) => {
  const name = c.req.param("name");
  const created = await c.env.BARE.get(c.env.BARE.idFromName(name)).create(name);
  return c.json({ created }, 201);
});

export default app;
