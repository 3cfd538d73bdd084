package prommetrics

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mqwal/mqwal/adaptor"
)

// DefaultLatencyBuckets are the append latency histogram's upper bounds:
// 50µs to ~3.3s, doubling.
var DefaultLatencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 17)

// Option configures Metrics.
type Option interface{ apply(*Metrics) }

type optionFunc func(*Metrics)

func (f optionFunc) apply(m *Metrics) { f(m) }

// WithLatencyBuckets sets the append latency histogram's upper bounds, in
// seconds (default DefaultLatencyBuckets).
func WithLatencyBuckets(b ...float64) Option {
	return optionFunc(func(m *Metrics) {
		if len(b) > 0 {
			m.buckets = append([]float64(nil), b...)
			sort.Float64s(m.buckets)
		}
	})
}

// Metrics is a prometheus.Collector fed by the adaptor's hooks: give it to
// adaptor.WithHooks and register it. Safe for concurrent use.
type Metrics struct {
	buckets []float64

	// series maps a channelKey to its *channelStats; mu serializes
	// opening and closing (the reference counts), events only Load.
	series sync.Map
	mu     sync.Mutex

	appends, appendBytes, latency, scanned, scannedBytes, scannedCached,
	reconnects, scanners, truncates *prometheus.Desc
}

type channelKey struct{ backend, channel string }

// channelStats are one channel's values, shared by every open WAL of it.
type channelStats struct {
	wals int // open WALs of the channel; under Metrics.mu

	appendsOK, appendErrors, appendBytes  atomic.Uint64
	scanned, scannedBytes, scannedCached  atomic.Uint64
	reconnects, truncatesOK, truncatesErr atomic.Uint64
	scanners                              atomic.Int64
	latencyCount                          atomic.Uint64
	latencySumNanos                       atomic.Int64
	latencyBuckets                        []atomic.Uint64 // per bucket, not cumulative; last is +Inf
}

var (
	_ prometheus.Collector           = (*Metrics)(nil)
	_ adaptor.HookWALOpened          = (*Metrics)(nil)
	_ adaptor.HookWALClosed          = (*Metrics)(nil)
	_ adaptor.HookAppended           = (*Metrics)(nil)
	_ adaptor.HookDelivered          = (*Metrics)(nil)
	_ adaptor.HookTruncated          = (*Metrics)(nil)
	_ adaptor.HookScannerOpened      = (*Metrics)(nil)
	_ adaptor.HookScannerClosed      = (*Metrics)(nil)
	_ adaptor.HookScannerReconnected = (*Metrics)(nil)
)

// New returns empty metrics named mqwal_*.
func New(opts ...Option) *Metrics {
	m := &Metrics{buckets: DefaultLatencyBuckets}
	for _, o := range opts {
		if o != nil {
			o.apply(m)
		}
	}
	labels := []string{"backend", "channel"}
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append(append([]string(nil), labels...), extra...), nil)
	}
	m.appends = desc("mqwal_append_total", "Appends the application made, by result (ok or error).", "result")
	m.appendBytes = desc("mqwal_append_bytes_total", "Payload plus property bytes of acknowledged appends.")
	m.latency = desc("mqwal_append_latency_seconds", "Latency of acknowledged appends, from the call to the acknowledgement.")
	m.scanned = desc("mqwal_scan_messages_total", "Messages scanners delivered to the application.")
	m.scannedBytes = desc("mqwal_scan_bytes_total", "Payload plus property bytes of delivered messages.")
	m.scannedCached = desc("mqwal_scan_cached_messages_total", "Delivered messages that came from the write-ahead cache.")
	m.reconnects = desc("mqwal_scanner_reconnects_total", "Attempts of scanners to reopen their driver scanner after a retryable error.")
	m.scanners = desc("mqwal_scanners", "Open scanners.")
	m.truncates = desc("mqwal_truncate_total", "Truncations, by result (ok or error).", "result")
	return m
}

func keyOf(w adaptor.WALInfo) channelKey { return channelKey{w.Backend, w.Channel.Name} }

// stats returns the channel's series, nil once its last WAL closed (a late
// event is dropped rather than bringing the series back).
func (m *Metrics) stats(w adaptor.WALInfo) *channelStats {
	if s, ok := m.series.Load(keyOf(w)); ok {
		return s.(*channelStats)
	}
	return nil
}

// OnWALOpened creates the channel's series, or counts one more WAL of it.
func (m *Metrics) OnWALOpened(w adaptor.WALInfo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := keyOf(w)
	if s, ok := m.series.Load(k); ok {
		s.(*channelStats).wals++
		return
	}
	m.series.Store(k, &channelStats{wals: 1, latencyBuckets: make([]atomic.Uint64, len(m.buckets)+1)})
}

// OnWALClosed removes the channel's series when its last WAL closed.
func (m *Metrics) OnWALClosed(w adaptor.WALInfo) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := keyOf(w)
	s, ok := m.series.Load(k)
	if !ok {
		return
	}
	if cs := s.(*channelStats); cs.wals > 1 {
		cs.wals--
		return
	}
	m.series.Delete(k)
}

// OnAppended counts an append.
func (m *Metrics) OnAppended(w adaptor.WALInfo, e adaptor.AppendEvent) {
	s := m.stats(w)
	if s == nil {
		return
	}
	if e.Err != nil {
		s.appendErrors.Add(1)
		return
	}
	s.appendsOK.Add(1)
	s.appendBytes.Add(uint64(e.Bytes))
	s.latencyCount.Add(1)
	s.latencySumNanos.Add(int64(e.Duration))
	i := sort.SearchFloat64s(m.buckets, e.Duration.Seconds()) // first bound >= it
	s.latencyBuckets[i].Add(1)
}

// OnDelivered counts a delivered message.
func (m *Metrics) OnDelivered(w adaptor.WALInfo, e adaptor.DeliverEvent) {
	if s := m.stats(w); s != nil {
		s.scanned.Add(1)
		s.scannedBytes.Add(uint64(e.Bytes))
		if e.FromCache {
			s.scannedCached.Add(1)
		}
	}
}

// OnTruncated counts a truncation.
func (m *Metrics) OnTruncated(w adaptor.WALInfo, e adaptor.TruncateEvent) {
	if s := m.stats(w); s != nil {
		if e.Err != nil {
			s.truncatesErr.Add(1)
		} else {
			s.truncatesOK.Add(1)
		}
	}
}

// OnScannerOpened counts an open scanner.
func (m *Metrics) OnScannerOpened(w adaptor.WALInfo, _ string) {
	if s := m.stats(w); s != nil {
		s.scanners.Add(1)
	}
}

// OnScannerClosed counts a scanner less.
func (m *Metrics) OnScannerClosed(w adaptor.WALInfo, _ adaptor.ScannerClosedEvent) {
	if s := m.stats(w); s != nil {
		s.scanners.Add(-1)
	}
}

// OnScannerReconnected counts a reconnect attempt.
func (m *Metrics) OnScannerReconnected(w adaptor.WALInfo, _ adaptor.ReconnectEvent) {
	if s := m.stats(w); s != nil {
		s.reconnects.Add(1)
	}
}

// Describe sends the metrics' descriptors.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.appends, m.appendBytes, m.latency, m.scanned, m.scannedBytes,
		m.scannedCached, m.reconnects, m.scanners, m.truncates} {
		ch <- d
	}
}

// Collect sends the current values of the open channels.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.series.Range(func(k, v any) bool {
		key, s := k.(channelKey), v.(*channelStats)
		b, c := key.backend, key.channel
		counter := func(d *prometheus.Desc, v uint64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{b, c}, extra...)...)
		}
		counter(m.appends, s.appendsOK.Load(), "ok")
		counter(m.appends, s.appendErrors.Load(), "error")
		counter(m.appendBytes, s.appendBytes.Load())
		counter(m.scanned, s.scanned.Load())
		counter(m.scannedBytes, s.scannedBytes.Load())
		counter(m.scannedCached, s.scannedCached.Load())
		counter(m.reconnects, s.reconnects.Load())
		counter(m.truncates, s.truncatesOK.Load(), "ok")
		counter(m.truncates, s.truncatesErr.Load(), "error")
		ch <- prometheus.MustNewConstMetric(m.scanners, prometheus.GaugeValue, float64(s.scanners.Load()), b, c)
		buckets := make(map[float64]uint64, len(m.buckets))
		var cum uint64
		for i, ub := range m.buckets {
			cum += s.latencyBuckets[i].Load()
			buckets[ub] = cum
		}
		// Count is read after the buckets, so it is never below the last
		// cumulative bucket (Prometheus requires that).
		count := max(s.latencyCount.Load(), cum+s.latencyBuckets[len(m.buckets)].Load())
		sum := time.Duration(s.latencySumNanos.Load()).Seconds()
		ch <- prometheus.MustNewConstHistogram(m.latency, count, sum, buckets, b, c)
		return true
	})
}
