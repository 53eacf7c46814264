/**
 * A seeded generator of numbers in [0, 1) (mulberry32), so that a failing plan or workload can be
 * run again from its printed seed.
 */
export const seededRandom = (seed: number) => () => {
  seed = (seed + 0x6D2B79F5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
