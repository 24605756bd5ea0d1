import { buildApp } from "./app";
import type { Env } from "./env";

export { CompanyLedger } from "./company-ledger";
export { IdentityGuard } from "./identity-guard";

const app = buildApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
