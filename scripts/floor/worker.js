// The runtime's floor for `npm run bench`: a bare Hono "hello" Worker, served by its own
// `wrangler dev` beside the service. Nothing here is part of the service.
import { Hono } from "hono";

const app = new Hono();
app.get("/", (c) => c.text("hello"));

export default app;
