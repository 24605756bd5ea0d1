import { DurableObject } from "cloudflare:workers";
import type { Env } from "../config/env";
import { type OutboxMessage, type QueueBundle, sourceShard } from "./shipment";

/**
 * Gathers the D1 writes of many identity objects and puts them on the D1 writes queue in bundles.
 * An identity object hands its messages here (one cheap call between objects); every
 * RELAY_WINDOW_MS, or sooner when bundles are full, the gathered messages leave as queue messages
 * each holding many identities' messages, and each caller's call resolves once the queue accepted
 * its messages. Only then does the identity object delete its rows. So the queue carries a message
 * per bundle, not per verify, and its consumer applies thousands of identities' writes in one D1
 * batch. The relay stores nothing: if it fails or is evicted, its callers' calls fail, their rows
 * are still in their own storage, and their alarms send them again; a duplicate is ignored by the
 * consumer (each source's progress). One relay per shard of sources (RELAY_SHARDS), always the
 * same for a source, and a source sends its next messages only after its previous ones were
 * accepted, so a source's messages keep their order.
 */

export const RELAY_SHARDS = 4;
/** How long a relay gathers messages before it sends (the latency it adds to D1 visibility). */
const RELAY_WINDOW_MS = 50;
/** A queue message holds at most 128 KB: a bundle stays well under it. */
const BUNDLE_BYTES = 96 * 1024;
/** Bundles per `sendBatch` (the queue's limits: 100 messages, 256 KB a call). */
const BUNDLES_PER_SEND = 2;

interface Waiting {
  messages: OutboxMessage[];
  bytes: number;
  settle: (error: unknown) => void;
}

export class OutboxRelay extends DurableObject<Env> {
  private waiting: Waiting[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** Resolves once the messages are on the queue; rejects if they could not be put there. */
  accept(messages: OutboxMessage[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const bytes = messages.reduce((total, m) => total + JSON.stringify(m).length, 0);
      this.waiting.push({ messages, bytes, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      if (this.timer === null) this.timer = setTimeout(() => this.sendAll(), RELAY_WINDOW_MS);
    });
  }

  /** Sends everything gathered, a few bundles a call; each caller learns how its messages fared. */
  private async sendAll(): Promise<void> {
    this.timer = null;
    while (this.waiting.length > 0) {
      const bundles: QueueBundle[] = [];
      const callers: Waiting[] = [];
      let bundle: OutboxMessage[] = [];
      let bytes = 0;
      while (this.waiting.length > 0) {
        const next = this.waiting[0] as Waiting;
        if (bundle.length > 0 && bytes + next.bytes > BUNDLE_BYTES) {
          bundles.push({ v: 1, messages: bundle });
          bundle = [];
          bytes = 0;
          if (bundles.length === BUNDLES_PER_SEND) break;
        }
        this.waiting.shift();
        callers.push(next);
        bundle.push(...next.messages);
        bytes += next.bytes;
      }
      if (bundle.length > 0) bundles.push({ v: 1, messages: bundle });
      try {
        await this.env.D1_WRITES.sendBatch(bundles.map((body) => ({ body, contentType: "json" as const })));
        for (const caller of callers) caller.settle(undefined);
      } catch (error) {
        console.error(JSON.stringify({ level: "error", msg: "relay: queue send failed", error: String(error) }));
        for (const caller of callers) caller.settle(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
}

/** The relay of `source` (always the same one, so its messages keep their order). */
export function relayFor(env: Env, source: string): DurableObjectStub<OutboxRelay> {
  return env.OUTBOX_RELAY.get(env.OUTBOX_RELAY.idFromName(`relay-${sourceShard(source, RELAY_SHARDS)}`));
}
