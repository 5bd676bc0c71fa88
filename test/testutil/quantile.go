package testutil

import "time"

// Quantile returns the q-quantile (0 < q <= 1) of sorted durations by the
// nearest-rank method; 0 for none. The benchmarks and the chaos run report
// with it, so that their p50 and p99 mean the same thing.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
