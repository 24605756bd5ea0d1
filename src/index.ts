import { buildApp } from "./app";
import { compactAuditLog } from "./audit/compaction";
import type { Env } from "./config/env";
import { intSetting } from "./config/settings";
import { consumeDeadDeliveries, consumeDeliveries, PROVIDER_TIMEOUT_MS, sweepDeliveries } from "./connectors/consumer";
import { meteredEnv } from "./db/meter";
import { consumeOutboxBatch } from "./ledger/d1-sink";
import { recordDeadLetters } from "./ledger/dead-letters";

export { CompanyLedger } from "./company/ledger";
export { IdentityGuard } from "./identity/guard";

import { resendIdentityWrites } from "./identity/guard";

export { OutboxRelay } from "./ledger/relay";
export { IpWatch } from "./risk/ip-watch";

const app = buildApp();

/** Dead-letter queues' names end so (wrangler.toml). */
const DEAD_LETTER_SUFFIX = "-dlq";
/** The connector deliveries queue's name starts so; every other queue is the D1 writes queue. */
const DELIVERIES_QUEUE = "hld-identity-connector-deliveries";
/** The cron that sweeps connector deliveries (wrangler.toml); the other one compacts. */
const SWEEP_CRON = "*/5 * * * *";

export default {
  fetch: (request, env, ctx) => app.fetch(request, meteredEnv(env), ctx),

  /** The D1 writes queue (a batch across identities, one D1 batch) and its dead letters. */
  async queue(batch, env) {
    if (batch.queue.startsWith(DELIVERIES_QUEUE)) {
      if (batch.queue.endsWith(DEAD_LETTER_SUFFIX)) await consumeDeadDeliveries(meteredEnv(env), batch, Date.now);
      else {
        const timeoutMs = intSetting(env.CONNECTOR_TIMEOUT_MS, PROVIDER_TIMEOUT_MS);
        await consumeDeliveries(meteredEnv(env), batch, Date.now, { timeoutMs });
      }
      return;
    }
    const { DB } = meteredEnv(env);
    const resend = (source: string, progress: number) => resendIdentityWrites(env, source, progress);
    if (batch.queue.endsWith(DEAD_LETTER_SUFFIX)) {
      await recordDeadLetters(DB, batch.messages, Date.now(), resend);
      return;
    }
    const report = await consumeOutboxBatch(DB, batch.messages, Date.now(), resend);
    if (report.failed > 0) console.error(JSON.stringify({ level: "error", job: "d1-writes", ...report }));
  },

  /** The crons (wrangler.toml): daily audit compaction, expired sessions and old assessments; the delivery sweep. */
  async scheduled(controller, env) {
    if (controller.cron === SWEEP_CRON) {
      const resent = await sweepDeliveries(meteredEnv(env), controller.scheduledTime);
      if (resent > 0) console.log(JSON.stringify({ level: "warn", job: "connector-sweep", resent }));
      return;
    }
    const report = await compactAuditLog(meteredEnv(env).DB, controller.scheduledTime, {
      auditDays: intSetting(env.AUDIT_RETENTION_DAYS, 90),
      assessmentDays: intSetting(env.ASSESSMENT_RETENTION_DAYS, 90),
    });
    console.log(JSON.stringify({ level: "info", job: "compaction", ...report }));
  },
} satisfies ExportedHandler<Env>;
