package interceptors

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// DefaultLatencyBuckets are the append latency histogram's upper bounds:
// 50µs to ~3.3s, doubling.
var DefaultLatencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 17)

// Metrics counts appends (by result), appended and scanned messages and
// bytes, and append latency, per backend and channel. Pass it to
// adaptor.WithInterceptors; register it with a prometheus.Registerer to
// export it (it is a prometheus.Collector), or read Snapshot without
// Prometheus. One Metrics may serve many openers. Safe for concurrent use.
type Metrics struct {
	buckets []float64

	mu       sync.Mutex
	channels map[channelKey]*channelStats

	appends, appendBytes, latency, scanned, scannedBytes *prometheus.Desc
}

type channelKey struct{ backend, channel string }

// channelStats are one channel's counters, shared by every WAL of it.
type channelStats struct {
	appendsOK, appendErrors, appendBytes atomic.Uint64
	scanned, scannedBytes                atomic.Uint64
	latencyCount                         atomic.Uint64
	latencySumNanos                      atomic.Int64
	latencyBuckets                       []atomic.Uint64 // per bucket, not cumulative; last is +Inf
}

var _ prometheus.Collector = (*Metrics)(nil)

// NewMetrics returns empty metrics named mqwal_*; buckets are the latency
// histogram's upper bounds in seconds (nil: DefaultLatencyBuckets).
func NewMetrics(buckets ...float64) *Metrics {
	if len(buckets) == 0 {
		buckets = DefaultLatencyBuckets
	}
	buckets = append([]float64(nil), buckets...)
	sort.Float64s(buckets)
	labels := []string{"backend", "channel"}
	return &Metrics{
		buckets:      buckets,
		channels:     map[channelKey]*channelStats{},
		appends:      prometheus.NewDesc("mqwal_append_total", "Appends that reached the interceptor chain, by result (ok or error).", append(labels, "result"), nil),
		appendBytes:  prometheus.NewDesc("mqwal_append_bytes_total", "Payload plus property bytes of acknowledged appends.", labels, nil),
		latency:      prometheus.NewDesc("mqwal_append_latency_seconds", "Append latency from the interceptor to the driver's acknowledgement.", labels, nil),
		scanned:      prometheus.NewDesc("mqwal_scan_messages_total", "Messages scanners delivered (after fencing, before the scanner's own filters).", labels, nil),
		scannedBytes: prometheus.NewDesc("mqwal_scan_bytes_total", "Payload plus property bytes of scanned messages.", labels, nil),
	}
}

func (m *Metrics) stats(backend, channel string) *channelStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := channelKey{backend, channel}
	s, ok := m.channels[k]
	if !ok {
		s = &channelStats{latencyBuckets: make([]atomic.Uint64, len(m.buckets)+1)}
		m.channels[k] = s
	}
	return s
}

// Build returns the interceptor of one WAL.
func (m *Metrics) Build(p Param) Interceptor {
	return &metricsInterceptor{m: m, s: m.stats(p.WALName, p.Channel.Name)}
}

type metricsInterceptor struct {
	Nop
	m *Metrics
	s *channelStats
}

func (mi *metricsInterceptor) DoAppend(ctx context.Context, msg message.MutableMessage, next AppendFunc) (*wal.AppendResult, error) {
	start := time.Now()
	res, err := next(ctx, msg)
	took := time.Since(start)
	if err != nil {
		mi.s.appendErrors.Add(1)
		return res, err
	}
	mi.s.appendsOK.Add(1)
	mi.s.appendBytes.Add(uint64(msg.EstimateSize()))
	mi.s.latencyCount.Add(1)
	mi.s.latencySumNanos.Add(int64(took))
	secs := took.Seconds()
	i := sort.SearchFloat64s(mi.m.buckets, secs) // first bound >= secs
	mi.s.latencyBuckets[i].Add(1)
	return res, nil
}

func (mi *metricsInterceptor) NewReadHook(wal.ReadOption) ReadHook {
	return ReadHookFunc(func(msg message.ImmutableMessage) bool {
		mi.s.scanned.Add(1)
		mi.s.scannedBytes.Add(uint64(msg.EstimateSize()))
		return true
	})
}

// Describe sends the metrics' descriptors.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.appends, m.appendBytes, m.latency, m.scanned, m.scannedBytes} {
		ch <- d
	}
}

// Collect sends the current values.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.Snapshot().Channels {
		l := []string{c.Backend, c.Channel}
		ch <- prometheus.MustNewConstMetric(m.appends, prometheus.CounterValue, float64(c.Appends), c.Backend, c.Channel, "ok")
		ch <- prometheus.MustNewConstMetric(m.appends, prometheus.CounterValue, float64(c.AppendErrors), c.Backend, c.Channel, "error")
		ch <- prometheus.MustNewConstMetric(m.appendBytes, prometheus.CounterValue, float64(c.AppendBytes), l...)
		ch <- prometheus.MustNewConstMetric(m.scanned, prometheus.CounterValue, float64(c.Scanned), l...)
		ch <- prometheus.MustNewConstMetric(m.scannedBytes, prometheus.CounterValue, float64(c.ScannedBytes), l...)
		buckets := make(map[float64]uint64, len(c.AppendLatency.Buckets))
		for _, b := range c.AppendLatency.Buckets {
			buckets[b.UpperBound.Seconds()] = b.Count
		}
		ch <- prometheus.MustNewConstHistogram(m.latency, c.AppendLatency.Count, c.AppendLatency.Sum.Seconds(), buckets, l...)
	}
}

// MetricsSnapshot is a copy of every channel's metrics, sorted by backend
// and channel.
type MetricsSnapshot struct {
	Channels []ChannelMetrics
}

// Channel returns the metrics of backend's channel and whether it has any.
func (s MetricsSnapshot) Channel(backend, channel string) (ChannelMetrics, bool) {
	for _, c := range s.Channels {
		if c.Backend == backend && c.Channel == channel {
			return c, true
		}
	}
	return ChannelMetrics{}, false
}

// ChannelMetrics are one channel's metrics.
type ChannelMetrics struct {
	Backend, Channel      string
	Appends, AppendErrors uint64 // acknowledged and failed appends
	AppendBytes           uint64 // bytes of acknowledged appends
	Scanned, ScannedBytes uint64 // messages scanners delivered
	AppendLatency         Histogram
}

// Histogram is a latency distribution with cumulative buckets.
type Histogram struct {
	Count   uint64
	Sum     time.Duration
	Buckets []Bucket // cumulative, ascending; +Inf is implied by Count
}

// Bucket counts observations at or below UpperBound.
type Bucket struct {
	UpperBound time.Duration
	Count      uint64
}

// Quantile estimates the q-quantile (0..1) as the upper bound of the
// bucket it falls in; 0 with no observations.
func (h Histogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := uint64(q * float64(h.Count))
	for _, b := range h.Buckets {
		if b.Count >= rank && b.Count > 0 {
			return b.UpperBound
		}
	}
	if n := len(h.Buckets); n > 0 {
		return h.Buckets[n-1].UpperBound
	}
	return 0
}

// Snapshot copies the current values.
func (m *Metrics) Snapshot() MetricsSnapshot {
	m.mu.Lock()
	keys := make([]channelKey, 0, len(m.channels))
	stats := make(map[channelKey]*channelStats, len(m.channels))
	for k, s := range m.channels {
		keys = append(keys, k)
		stats[k] = s
	}
	m.mu.Unlock()
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].backend != keys[j].backend {
			return keys[i].backend < keys[j].backend
		}
		return keys[i].channel < keys[j].channel
	})
	out := MetricsSnapshot{Channels: make([]ChannelMetrics, 0, len(keys))}
	for _, k := range keys {
		s := stats[k]
		c := ChannelMetrics{
			Backend: k.backend, Channel: k.channel,
			Appends: s.appendsOK.Load(), AppendErrors: s.appendErrors.Load(), AppendBytes: s.appendBytes.Load(),
			Scanned: s.scanned.Load(), ScannedBytes: s.scannedBytes.Load(),
		}
		var cum uint64
		buckets := make([]Bucket, len(m.buckets))
		for i, ub := range m.buckets {
			cum += s.latencyBuckets[i].Load()
			buckets[i] = Bucket{UpperBound: time.Duration(ub * float64(time.Second)), Count: cum}
		}
		// Count is read after the buckets, so it is never below the last
		// cumulative bucket (Prometheus requires that).
		cnt := max(s.latencyCount.Load(), cum+s.latencyBuckets[len(m.buckets)].Load())
		c.AppendLatency = Histogram{Count: cnt, Sum: time.Duration(s.latencySumNanos.Load()), Buckets: buckets}
		out.Channels = append(out.Channels, c)
	}
	return out
}
