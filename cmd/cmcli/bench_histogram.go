package main

import (
	"math"
	"math/bits"
	"time"
)

// latencyHistogram counts latencies in microsecond buckets whose width grows with
// the value (an HDR-style log-linear layout): exact below 128 µs, then 64 buckets
// per power of two, so any value is reported within 1/64 (1.6%) of the truth. It
// has a fixed size (about 18 KiB) whatever the length of the run, and one per load
// worker, merged at the end, needs no locking.
type latencyHistogram struct {
	counts [histogramBuckets]uint64
	total  uint64
	sum    time.Duration
	min    time.Duration
	max    time.Duration
}

const (
	histogramSubBits = 7 // values below 1<<7 µs get a bucket each
	histogramHalf    = 1 << (histogramSubBits - 1)
	// histogramMaxMicros caps recorded values (about 76 hours): longer ones are
	// counted as that.
	histogramMaxMicros = 1<<38 - 1
	histogramBuckets   = (38-histogramSubBits+1)*histogramHalf + histogramHalf
)

// bucketOf is the bucket index of a value in microseconds.
func bucketOf(micros uint64) int {
	if micros < 1<<histogramSubBits {
		return int(micros)
	}
	shift := bits.Len64(micros) - histogramSubBits
	return shift*histogramHalf + int(micros>>shift)
}

// bucketHigh is the largest value, in microseconds, that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < 1<<histogramSubBits {
		return uint64(i)
	}
	shift := i/histogramHalf - 1
	mantissa := uint64(i - shift*histogramHalf)
	return (mantissa+1)<<shift - 1
}

// record adds one observation.
func (h *latencyHistogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	micros := min(uint64(d/time.Microsecond), histogramMaxMicros)
	h.counts[bucketOf(micros)]++
	if h.total == 0 || d < h.min {
		h.min = d
	}
	h.max = max(h.max, d)
	h.total++
	h.sum += d
}

// merge adds other's observations to h.
func (h *latencyHistogram) merge(other *latencyHistogram) {
	if other.total == 0 {
		return
	}
	for i, c := range other.counts {
		h.counts[i] += c
	}
	if h.total == 0 || other.min < h.min {
		h.min = other.min
	}
	h.max = max(h.max, other.max)
	h.total += other.total
	h.sum += other.sum
}

// percentile is the smallest recorded value v such that at least q (0..1) of all
// observations are <= v, to the bucket's precision (never above the maximum).
// It is 0 for an empty histogram.
func (h *latencyHistogram) percentile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := time.Duration(bucketHigh(i)) * time.Microsecond
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

// mean is the average observation, 0 for an empty histogram.
func (h *latencyHistogram) mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return h.sum / time.Duration(h.total)
}
