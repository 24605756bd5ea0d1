import { describe, expect, it } from "vitest";
import { call, provision, tenant } from "../helpers";

const BROWSER =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

async function seasoned(key: string, name: string): Promise<string> {
  const id = (await provision(key, name)).body.user.id as string;
  // Past the learning period, on a usual IP.
  for (let i = 0; i < 5; i++) await discover(key, id, { ip: "1.1.1.1", ua: BROWSER, country: "FR" });
  return id;
}

function discover(key: string, id: string, context: Record<string, unknown>) {
  return call("/v1/sentinel/discover", { key, body: { sentinel: { id, context } } });
}

/** Assessments reach D1 by the relay and the queue just after the answer: wait for the record. */
async function stored(key: string, assessmentId: string): Promise<void> {
  await expect
    .poll(async () => (await call(`/v1/sentinel/assessments/${assessmentId}`, { key })).status, { timeout: 10_000 })
    .toBe(200);
}

const weightOf = (body: any, name: string): number =>
  body.signals.find((s: { name: string }) => s.name === name)?.weight ?? 0;

describe("assessments and feedback", () => {
  it("stores each assessment with its context, and lists them newest first", async () => {
    const { key } = await tenant();
    const id = (await provision(key, "u")).body.user.id;
    const first = await discover(key, id, { ip: "1.1.1.1", ua: BROWSER, country: "FR", geo: { lat: 1, lon: 2 } });
    const second = await discover(key, id, { ip: "1.0.0.1", ua: BROWSER });
    await stored(key, second.body.assessment_id);
    const read = await call(`/v1/sentinel/assessments/${first.body.assessment_id}`, { key });
    expect(read.status).toBe(200);
    expect(read.body.assessment).toMatchObject({
      id: first.body.assessment_id,
      identity_id: id,
      context: { ip: "1.1.1.1", ua: BROWSER, country: "FR", geo: { lat: 1, lon: 2 } },
      risk_score: first.body.risk_score,
      recommendation: first.body.recommendation,
      signals: first.body.signals,
      policy_version: 1,
      feedback: null,
    });
    const listed = await call(`/v1/sentinel/assessments?identity_id=${id}&limit=1`, { key });
    expect(listed.body.assessments.map((a: { id: string }) => a.id)).toEqual([second.body.assessment_id]);
    const next = await call(`/v1/sentinel/assessments?identity_id=${id}&limit=1&cursor=${listed.body.next_cursor}`, {
      key,
    });
    expect(next.body.assessments.map((a: { id: string }) => a.id)).toEqual([first.body.assessment_id]);
  });

  it("fraudulent feedback raises the next score from that IP and user agent", async () => {
    const { key } = await tenant();
    const id = await seasoned(key, "u");
    const suspect = await discover(key, id, { ip: "198.51.100.20", ua: "Evil/1.0", country: "FR" });
    await stored(key, suspect.body.assessment_id);
    const fb = await call(`/v1/sentinel/assessments/${suspect.body.assessment_id}/feedback`, {
      key,
      body: { verdict: "fraudulent" },
    });
    expect(fb.status).toBe(200);
    expect(fb.body.feedback).toMatchObject({ assessment_id: suspect.body.assessment_id, verdict: "fraudulent" });
    const again = await discover(key, id, { ip: "198.51.100.20", ua: "Evil/1.0", country: "FR" });
    expect(again.body.risk_score).toBeGreaterThan(suspect.body.risk_score);
    expect(again.body.signals.map((s: { name: string }) => s.name)).toContain("reported_fraud");
    // The IP is marked for the whole company: another identity from it carries the signal too.
    const other = await seasoned(key, "v");
    const fromIp = await discover(key, other, { ip: "198.51.100.20", ua: BROWSER, country: "FR" });
    expect(fromIp.body.signals.map((s: { name: string }) => s.name)).toContain("reported_fraud");
    const read = await call(`/v1/sentinel/assessments/${suspect.body.assessment_id}`, { key });
    expect(read.body.assessment.feedback).toMatchObject({ verdict: "fraudulent" });
  });

  it("legitimate feedback teaches: the next assessment from that IP carries no new_ip", async () => {
    const { key } = await tenant();
    const id = await seasoned(key, "u");
    const travelling = await discover(key, id, { ip: "8.8.4.4", ua: BROWSER, country: "FR" });
    expect(weightOf(travelling.body, "new_ip")).toBeGreaterThan(0);
    // A fresh IP the identity has not seen: legitimate feedback on an assessment makes it known.
    const hotel = await discover(key, id, { ip: "9.9.9.9", ua: BROWSER, country: "FR" });
    await call(`/v1/sentinel/assessments/${hotel.body.assessment_id}/feedback`, {
      key,
      body: { verdict: "legitimate" },
    });
    const back = await discover(key, id, { ip: "9.9.9.9", ua: BROWSER, country: "FR" });
    expect(weightOf(back.body, "new_ip")).toBe(0);
    expect(back.body.risk_score).toBeLessThanOrEqual(hotel.body.risk_score);
  });

  it("keeps each company's feedback and history its own; another company's assessment is 404", async () => {
    const a = await tenant("A");
    const b = await tenant("B");
    const ida = await seasoned(a.key, "u");
    const idb = await seasoned(b.key, "u");
    const flagged = await discover(a.key, ida, { ip: "198.51.100.77", ua: BROWSER, country: "FR" });
    await stored(a.key, flagged.body.assessment_id);
    await call(`/v1/sentinel/assessments/${flagged.body.assessment_id}/feedback`, {
      key: a.key,
      body: { verdict: "fraudulent" },
    });
    const fromB = await discover(b.key, idb, { ip: "198.51.100.77", ua: BROWSER, country: "FR" });
    expect(fromB.body.signals.map((s: { name: string }) => s.name)).not.toContain("reported_fraud");
    expect((await call(`/v1/sentinel/assessments/${flagged.body.assessment_id}`, { key: b.key })).status).toBe(404);
    const cross = await call(`/v1/sentinel/assessments/${flagged.body.assessment_id}/feedback`, {
      key: b.key,
      body: { verdict: "legitimate" },
    });
    expect(cross.status).toBe(404);
  });

  it("refuses a bad verdict and an unknown assessment", async () => {
    const { key } = await tenant();
    expect((await call("/v1/sentinel/assessments/asm_nope", { key })).status).toBe(404);
    const bad = await call("/v1/sentinel/assessments/asm_nope/feedback", { key, body: { verdict: "maybe" } });
    expect(bad.status).toBe(400);
  });
});
