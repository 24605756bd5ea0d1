/** Great-circle distance and travel speed, for the impossible-travel signal. */

export interface GeoPoint {
  lat: number;
  lon: number;
}

/** The mean Earth radius (IUGG), in kilometres. */
const EARTH_RADIUS_KM = 6371.0088;

/** Haversine distance between two points, in kilometres. */
export function distanceKm(a: GeoPoint, b: GeoPoint): number {
  const rad = (degrees: number) => (degrees * Math.PI) / 180;
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The speed needed to cover `km` in `elapsedMs`, in km/h (a zero interval counts as one second). */
export function speedKmh(km: number, elapsedMs: number): number {
  return km / (Math.max(elapsedMs, 1000) / 3_600_000);
}
