import type { Env } from "../config/env";
import type { SendMessages } from "../ledger/outbox";
import { relayFor } from "../ledger/relay";
import type { IdentityContext } from "./context";
import { syncMarksToKv } from "./marks";
import type { IdentityRow } from "./storage";

/** When the safety-net alarm runs after a change (the send normally finishes long before). */
const SAFETY_ALARM_MS = 10_000;
/** When it runs again after a failed send or KV sync. */
const RETRY_ALARM_MS = 5_000;
/** How long a change off the hot path waits for this identity's queued writes to land before its own. */
const DIRECT_WAIT_MS = 10_000;

/**
 * How an identity object's changes leave it, once its storage transaction has committed: its
 * D1 writes through the relays (or straight to D1), its revocation marks to KV, and the alarm
 * that retries both after a crash or a failure. The object (guard.ts) decides; this ships.
 */
export class ChangeShipping {
  /** Whether an alarm is known to be set (cleared when it runs). */
  private alarmArmed = false;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly env: Env,
    private readonly identity: IdentityContext,
  ) {}

  /**
   * Sends this change's D1 writes on. The alarm is armed first (one storage write, and none
   * while it is already armed), so a crash at any point leaves a retry behind. The hot path
   * and most changes ("relay") hand them to a relay after answering (they are durable here
   * already), to be applied in a batch across identities; actions and feedback ("apply") apply
   * them to D1 before answering (by the queue consumer's rule, so still once and in order), so an
   * incident's actions and an analyst's verdict are readable at once. Changes to revocation marks
   * (`kv`) push them to KV before answering, for the eventual introspection path.
   */
  async flush(
    row: () => IdentityRow | null,
    nowMs: number,
    options: { d1: "relay" | "apply"; kv: boolean },
  ): Promise<void> {
    await this.armAlarm(nowMs, SAFETY_ALARM_MS);
    const current = row();
    if (!current) return;
    const { outbox } = this.identity;
    if (options.d1 === "relay") {
      outbox.ship(this.sendToRelay(current.id), current.id).catch((error: unknown) => {
        console.error(
          JSON.stringify({
            level: "error",
            msg: "identity guard: sending D1 writes failed, alarm will retry",
            error: String(error),
          }),
        );
      });
    } else {
      await outbox
        .apply(this.env.DB, this.sendToRelay(current.id), current.id, Date.now() + DIRECT_WAIT_MS)
        .catch((error: unknown) => {
          console.error(
            JSON.stringify({
              level: "error",
              msg: "identity guard: applying D1 writes failed, alarm will retry",
              error: String(error),
            }),
          );
        });
    }
    if (!options.kv) return;
    await syncMarksToKv(this.identity, this.env.REVOCATIONS, nowMs).catch((error: unknown) => {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "identity guard: KV sync failed, alarm will retry",
          error: String(error),
        }),
      );
    });
  }

  /** The alarm: ships what a crash or a failed send left, pushes marks KV lacks, re-arms if unfinished. */
  async onAlarm(source: string, row: () => IdentityRow | null): Promise<void> {
    this.alarmArmed = false;
    try {
      await this.identity.outbox.ship(this.sendToRelay(source), source);
      this.storage.transactionSync(() => this.identity.outbox.settleShipped());
      await syncMarksToKv(this.identity, this.env.REVOCATIONS, Date.now());
    } finally {
      const synced = row();
      const unfinished =
        this.identity.outbox.pendingCount() > 0 ||
        (synced !== null && synced.marks_version > synced.marks_synced_version);
      if (unfinished) await this.armAlarm(Date.now(), RETRY_ALARM_MS);
    }
  }

  /** Sends this identity's writes after `progress` again, for a consumer that found a gap. */
  resend(source: string, progress: number): Promise<"resent" | "nothing" | "lost"> {
    return this.identity.outbox.resend(this.sendToRelay(source), source, progress);
  }

  /** Hands messages to this identity's relay (relay.ts); resolves once they are on the queue. */
  private sendToRelay(source: string): SendMessages {
    return (messages) => relayFor(this.env, source).accept(messages);
  }

  private async armAlarm(nowMs: number, delayMs: number): Promise<void> {
    if (this.alarmArmed) return;
    if ((await this.storage.getAlarm()) === null) await this.storage.setAlarm(nowMs + delayMs);
    this.alarmArmed = true;
  }
}
