package testutil

import (
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, c := range []struct {
		in   []time.Duration
		q    float64
		want time.Duration
	}{
		{d, 0.50, 50}, {d, 0.99, 99}, {d, 1, 100}, {d, 0.001, 1},
		{d[:3], 0.50, 2}, {d[:1], 0.99, 1}, {nil, 0.5, 0},
	} {
		if got := Quantile(c.in, c.q); got != c.want {
			t.Errorf("Quantile(%d values, %v) = %v, want %v", len(c.in), c.q, got, c.want)
		}
	}
}
