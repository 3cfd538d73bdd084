package interceptors_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/adaptor/interceptors"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

func openMemory(t *testing.T, ch string, opts ...adaptor.Option) (wal.Opener, wal.WAL) {
	t.Helper()
	o, err := adaptor.NewOpenerBuilder(memory.NewBuilder(memory.WithStore(memory.NewStore()), memory.WithMaxMessageSize(1000)), opts...).Build()
	if err != nil {
		t.Fatal(err)
	}
	w, err := o.Open(context.Background(), &wal.OpenOption{Channel: wal.Channel{Name: ch, Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return o, w
}

func readN(t *testing.T, w wal.WAL, n int) {
	t.Helper()
	s, err := w.Read(context.Background(), wal.ReadOption{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range n {
		select {
		case <-s.Chan():
		case <-time.After(5 * time.Second):
			t.Fatal("no message")
		}
	}
}

func TestMetricsSnapshotAndPrometheus(t *testing.T) {
	m := interceptors.NewMetrics()
	o, w := openMemory(t, "metrics", adaptor.WithInterceptors(m))
	defer o.Close()
	for range 5 {
		if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte("12345"), message.Properties{"k": "v"})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Append(context.Background(), message.NewMutableMessage(make([]byte, 2000), nil)); !errors.Is(err, wal.ErrMessageTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
	readN(t, w, 5)

	c, ok := m.Snapshot().Channel("memory", "metrics")
	if !ok {
		t.Fatal("no metrics for the channel")
	}
	// The fence record written at open is one more acknowledged append.
	if c.Appends != 6 || c.AppendErrors != 1 {
		t.Fatalf("appends %d ok, %d errors; want 6 and 1", c.Appends, c.AppendErrors)
	}
	if c.AppendBytes < 5*7 {
		t.Fatalf("append bytes %d", c.AppendBytes)
	}
	if c.Scanned != 5 || c.ScannedBytes == 0 {
		t.Fatalf("scanned %d messages (%d bytes), want 5: fence records are not counted", c.Scanned, c.ScannedBytes)
	}
	if c.AppendLatency.Count != 6 || c.AppendLatency.Quantile(0.99) <= 0 {
		t.Fatalf("latency histogram %+v", c.AppendLatency)
	}

	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			switch {
			case metric.GetCounter() != nil:
				key := f.GetName()
				for _, l := range metric.GetLabel() {
					if l.GetName() == "result" {
						key += "/" + l.GetValue()
					}
				}
				got[key] = metric.GetCounter().GetValue()
			case metric.GetHistogram() != nil:
				got[f.GetName()] = float64(metric.GetHistogram().GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"mqwal_append_total/ok": 6, "mqwal_append_total/error": 1,
		"mqwal_scan_messages_total": 5, "mqwal_append_latency_seconds": 6,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

func TestLoggingLifecycleNotPerMessage(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	o, w := openMemory(t, "logging", adaptor.WithLogger(zap.New(core)))
	for range 10 {
		if _, err := w.Append(context.Background(), message.NewMutableMessage([]byte("x"), nil)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Append(context.Background(), message.NewMutableMessage(make([]byte, 2000), nil)); err == nil {
		t.Fatal("oversized append succeeded")
	}
	o.Close()
	for _, msg := range []string{"fence record written", "wal opened", "append failed", "wal closed", "opener closed"} {
		if logs.FilterMessage(msg).Len() == 0 {
			t.Errorf("no %q log entry; got %v", msg, logs.All())
		}
	}
	if n := logs.Len(); n > 8 {
		t.Errorf("%d info+ entries for 10 appends: something logs per message: %v", n, logs.All())
	}
	e := logs.FilterMessage("wal opened").All()[0]
	if e.ContextMap()["channel"] != "logging" || e.ContextMap()["backend"] != "memory" {
		t.Errorf("open entry lacks channel/backend fields: %v", e.ContextMap())
	}
}
