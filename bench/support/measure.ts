/** Throughput and memory helpers shared by the byte-moving benchmarks (storage, export). */
const MiB = 1024 * 1024;

export const mbps = (bytes: number, seconds: number): number => bytes / MiB / seconds;

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** Peak RSS above the level when it started, sampled every 10 ms. */
export function rssWatch(): { stop(): number } {
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  return {
    stop() {
      clearInterval(timer);
      return (Math.max(peak, process.memoryUsage().rss) - baseline) / MiB;
    },
  };
}
