import type { DeliveryMessage } from "../connectors/consumer";
import type { QueueBundle } from "../ledger/shipment";

/**
 * The Worker's bindings, vars and secrets: `Cloudflare.Env`, which `wrangler types` generates
 * from wrangler.toml into worker-configuration.d.ts (`npm run cf-typegen`; `npm test` fails when
 * it is stale), with the one thing the config cannot say, what each queue carries. What each
 * binding is for is said beside it in wrangler.toml and in the README's configuration table.
 */
export type Env = Omit<Cloudflare.Env, "D1_WRITES" | "CONNECTOR_DELIVERIES"> & {
  /** Bundles of identity objects' D1 writes, applied in batches across identities (src/ledger/d1-sink.ts). */
  D1_WRITES: Queue<QueueBundle>;
  /** One message per try of carrying an action to a connector (src/connectors/consumer.ts). */
  CONNECTOR_DELIVERIES: Queue<DeliveryMessage>;
};
