import { z } from "@hono/zod-openapi";
import type { identityActions } from "../db/schema";
import { ISO_TIME } from "./schemas";

/** An action's delivery to one connector (see src/connectors). */
export const DeliverySchema = z
  .object({
    id: z.string(),
    connector_id: z.string(),
    type: z.enum(["entra", "okta", "google_workspace"]),
    status: z.enum(["pending", "delivered", "failed", "not_applicable"]),
    attempts: z.number().int(),
    last_error: z.string().nullable().openapi({ description: "What the provider answered; never a credential" }),
  })
  .openapi("ActionDelivery");
export type DeliveryWire = z.infer<typeof DeliverySchema>;

/** An identity action on the wire, as the identity routes and the incident routes both show it. */
export const ActionSchema = z
  .object({
    id: z.string(),
    type: z.enum(["disable", "enable", "revoke_sessions", "force_mfa"]),
    identity_id: z.string(),
    reason: z.string().nullable(),
    incident_id: z.string().nullable(),
    performed_by: z.string().openapi({ description: "The acting API key's id" }),
    created_at: ISO_TIME,
    deliveries: z.array(DeliverySchema).openapi({ description: "Its deliveries to the company's connectors" }),
  })
  .openapi("IdentityAction");

export function actionToWire(
  row: typeof identityActions.$inferSelect,
  deliveries: ReadonlyMap<string, readonly unknown[]>,
): z.infer<typeof ActionSchema> {
  return {
    id: row.id,
    type: row.type,
    identity_id: row.identityId,
    reason: row.reason,
    incident_id: row.incidentId,
    performed_by: row.performedBy,
    created_at: row.createdAt,
    deliveries: (deliveries.get(row.id) ?? []) as DeliveryWire[],
  };
}
