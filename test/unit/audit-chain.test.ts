import { describe, expect, it } from "vitest";
import {
  type AuditEvent,
  ChainAudit,
  checkChainEvent,
  contentHash,
  GENESIS_HASH,
  linkHash,
  verifyChainSegment,
} from "../../src/domain/audit-chain";
import { EVENT } from "../../src/domain/audit-events";

/** A chain of `n` well-formed events, built the way the ledger builds them. */
function chain(n: number, chainId = "idn_1", type: string = EVENT.mfaVerify): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const content = {
      actor: "key_1",
      ip: null,
      reason: null,
      incident_id: null,
      request_id: `req_${seq}`,
      metadata: "{}",
    };
    const link = {
      prev_hash: prev,
      id: `evt_${chainId}_${seq}`,
      company_id: "cmp_1",
      chain_id: chainId,
      seq,
      identity_id: chainId,
      type,
      outcome: "success",
      created_at: new Date(1_750_000_000_000 + seq).toISOString(),
      content_hash: contentHash(content),
    };
    const event = { ...link, ...content, compacted_at: null, hash: linkHash(link) };
    events.push(event);
    prev = event.hash;
  }
  return events;
}

const start = { seq: 0, hash: GENESIS_HASH };

describe("the audit hash chain", () => {
  it("verifies a whole chain, and resumes from where a page ended", () => {
    const events = chain(6);
    const first = verifyChainSegment(events.slice(0, 3), start);
    expect(first.ok).toBe(true);
    if (first.ok) expect(verifyChainSegment(events.slice(3), first.after)).toMatchObject({ ok: true });
  });

  it("names an edited field as hash_mismatch", () => {
    const events = chain(3);
    const edited = { ...events[1], reason: "edited" } as AuditEvent;
    expect(checkChainEvent(edited, { seq: 1, hash: events[0]?.hash ?? "" })).toBe("hash_mismatch");
  });

  it("names the event after a recomputed edit as broken_link", () => {
    const events = chain(3);
    const forged = { ...events[0], actor: "forger" } as AuditEvent;
    forged.content_hash = contentHash(forged);
    forged.hash = linkHash(forged);
    expect(verifyChainSegment([forged, ...events.slice(1)], start)).toEqual({
      ok: false,
      broken: { event_id: events[1]?.id, reason: "broken_link" },
    });
  });

  it("names the event after a gap as missing_event", () => {
    const events = chain(3);
    expect(verifyChainSegment([events[0], events[2]] as AuditEvent[], start)).toEqual({
      ok: false,
      broken: { event_id: events[2]?.id, reason: "missing_event" },
    });
  });

  it("accepts a compacted routine event and refuses a security event made to look compacted", () => {
    const routine = chain(1)[0] as AuditEvent;
    expect(
      checkChainEvent({ ...routine, actor: null, request_id: null, compacted_at: "2026-01-01T00:00:00.000Z" }, start),
    ).toBeNull();
    const security = chain(1, "idn_1", EVENT.identityDisabled)[0] as AuditEvent;
    expect(checkChainEvent({ ...security, compacted_at: "2026-01-01T00:00:00.000Z" }, start)).toBe(
      "invalid_compaction",
    );
  });

  it("keeps walking after a break, across chains, listing at most `limit` and counting all", () => {
    const a = chain(5, "idn_a");
    const b = chain(4, "idn_b");
    const tampered = [...a, ...b].map((e) => (e.seq === 2 || e.seq === 4 ? ({ ...e, reason: "x" } as AuditEvent) : e));
    const audit = new ChainAudit(3);
    for (const event of tampered) audit.add(event);
    expect(audit.checked).toBe(9);
    expect(audit.brokenCount).toBe(4);
    expect(audit.broken).toEqual([
      { event_id: "evt_idn_a_2", reason: "hash_mismatch" },
      { event_id: "evt_idn_a_4", reason: "hash_mismatch" },
      { event_id: "evt_idn_b_2", reason: "hash_mismatch" },
    ]);
  });

  it("hashes the metadata text exactly as stored: another spelling of the same JSON is another hash", () => {
    const content = { actor: null, ip: null, reason: null, incident_id: null, request_id: null };
    expect(contentHash({ ...content, metadata: '{"a":1,"b":2}' })).not.toBe(
      contentHash({ ...content, metadata: '{"b":2,"a":1}' }),
    );
    expect(contentHash({ ...content, metadata: '{"a":1}' })).toBe(contentHash({ ...content, metadata: '{"a":1}' }));
  });
});
