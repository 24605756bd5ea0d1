/**
 * Threat: an incident is closed while actions naming it are still being taken. If the check
 * "is this incident open?" and the linking of the action happen in different places, an
 * action can slip in after the close: linked to a closed incident, timed after `closed_at`,
 * so the incident record no longer tells the truth about what was done under it. The check
 * and the link must be serialized with the close: an action is linked only if it is timed at
 * or before `closed_at`, and once the close has returned every action naming it is `409`.
 */
import { describe, expect, it } from "vitest";
import { call, provision, tenant } from "../helpers";

const ROUNDS = 15;
const ACTIONS_PER_ROUND = 4;

describe("closing an incident is serialized with the actions that name it", () => {
  it(`links no action after the close, over ${ROUNDS} rounds of close racing ${ACTIONS_PER_ROUND} force-mfa`, async () => {
    const { key } = await tenant();
    const identities: string[] = [];
    for (let i = 0; i < ACTIONS_PER_ROUND; i++) identities.push((await provision(key, `racer-${i}`)).body.user.id);

    let linked = 0;
    let refused = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const incident = (await call("/v1/sentinel/incidents", { key, body: { title: `round ${round}` } })).body.incident;
      // The close leaves 0 to 4 ms after the actions, so rounds land on both sides of the race.
      const closeDelayMs = round % 5;
      const [closed, ...actions] = await Promise.all([
        new Promise((resolve) => setTimeout(resolve, closeDelayMs)).then(() =>
          call(`/v1/sentinel/incidents/${incident.id}/close`, { key, method: "POST" }),
        ),
        ...identities.map((id) =>
          call(`/v1/sentinel/identity/${id}/force-mfa`, { key, body: { reason: "race", incident_id: incident.id } }),
        ),
      ]);
      expect(closed?.status).toBe(200);
      const closedAt: string = closed?.body.incident.closed_at;

      const after = await call(`/v1/sentinel/identity/${identities[0]}/force-mfa`, {
        key,
        body: { incident_id: incident.id },
      });
      expect(after.status).toBe(409);
      expect(after.body).toMatchObject({ code: "incident_closed", incident_id: incident.id });

      const read = (await call(`/v1/sentinel/incidents/${incident.id}`, { key })).body.incident;
      expect(read.status).toBe("closed");
      expect(read.closed_at).toBe(closedAt);
      for (const action of actions) {
        if (action.status === 409) {
          expect(action.body.code).toBe("incident_closed");
          refused++;
          continue;
        }
        expect(action.status).toBe(200);
        linked++;
        expect(action.body.data.action.created_at <= closedAt).toBe(true);
        expect(read.actions.map((a: { id: string }) => a.id)).toContain(action.body.data.action.id);
      }
      for (const action of read.actions) expect(action.created_at <= closedAt).toBe(true);
      expect(read.actions).toHaveLength(actions.filter((a) => a.status === 200).length);
    }
    expect(linked + refused).toBe(ROUNDS * ACTIONS_PER_ROUND);
  });
});
