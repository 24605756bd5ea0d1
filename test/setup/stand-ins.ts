// Starts the identity providers' stand-ins (test/stand-ins/providers.ts) in the Node process,
// on the port vitest.config.ts chose, for the whole run.
import { startStandIns } from "../stand-ins/providers";

export default async function setup(): Promise<() => Promise<void>> {
  return startStandIns(Number(process.env.STAND_IN_PORT));
}
