import { buildApp } from "./app";
import { compactAuditLog } from "./audit/compaction";
import type { Env } from "./config/env";
import { intSetting } from "./config/settings";
import { meteredEnv } from "./db/meter";
import { consumeOutboxBatch } from "./ledger/d1-sink";
import { recordDeadLetters } from "./ledger/dead-letters";

export { CompanyLedger } from "./company/ledger";
export { IdentityGuard } from "./identity/guard";

import { resendIdentityWrites } from "./identity/guard";

export { OutboxRelay } from "./ledger/relay";
export { IpWatch } from "./risk/ip-watch";

const app = buildApp();

/** The dead-letter queue's name ends so (wrangler.toml); every other queue is the D1 writes queue. */
const DEAD_LETTER_SUFFIX = "-dlq";

export default {
  fetch: (request, env, ctx) => app.fetch(request, meteredEnv(env), ctx),

  /** The D1 writes queue (a batch across identities, one D1 batch) and its dead letters. */
  async queue(batch, env) {
    const { DB } = meteredEnv(env);
    const resend = (source: string, progress: number) => resendIdentityWrites(env, source, progress);
    if (batch.queue.endsWith(DEAD_LETTER_SUFFIX)) {
      await recordDeadLetters(DB, batch.messages, Date.now(), resend);
      return;
    }
    const report = await consumeOutboxBatch(DB, batch.messages, Date.now(), resend);
    if (report.failed > 0) console.error(JSON.stringify({ level: "error", job: "d1-writes", ...report }));
  },

  /** The daily cron (wrangler.toml): audit compaction, expired sessions and old assessments. */
  async scheduled(controller, env) {
    const report = await compactAuditLog(meteredEnv(env).DB, controller.scheduledTime, {
      auditDays: intSetting(env.AUDIT_RETENTION_DAYS, 90),
      assessmentDays: intSetting(env.ASSESSMENT_RETENTION_DAYS, 90),
    });
    console.log(JSON.stringify({ level: "info", job: "compaction", ...report }));
  },
} satisfies ExportedHandler<Env>;
