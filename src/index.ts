import { buildApp } from "./app";
import { compactAuditLog } from "./audit/compaction";
import type { Env } from "./config/env";
import { intSetting } from "./config/settings";

export { CompanyLedger } from "./company/ledger";
export { IdentityGuard } from "./identity/guard";
export { IpWatch } from "./risk/ip-watch";

const app = buildApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),

  /** The daily cron (wrangler.toml): audit compaction, expired sessions and old assessments. */
  async scheduled(controller, env) {
    const report = await compactAuditLog(env.DB, controller.scheduledTime, {
      auditDays: intSetting(env.AUDIT_RETENTION_DAYS, 90),
      assessmentDays: intSetting(env.ASSESSMENT_RETENTION_DAYS, 90),
    });
    console.log(JSON.stringify({ level: "info", job: "compaction", ...report }));
  },
} satisfies ExportedHandler<Env>;
