/**
 * Spreads `numWorkgroups` over x and y so that no dimension passes the per-dimension limit
 * (65535 by default). Kernels recover the linear id as `wid.x + wid.y * nwg.x` and return
 * when it is past the end.
 */
export function grid1d(numWorkgroups: number, maxPerDim = 65535): [number, number, number] {
  const n = Math.max(1, Math.ceil(numWorkgroups));
  if (n <= maxPerDim) return [n, 1, 1];
  const y = Math.ceil(n / maxPerDim);
  return [Math.ceil(n / y), y, 1];
}
