package prommetrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/adaptor/prommetrics"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// gather returns each series of reg as name{channel,result} → value (the
// sample count for histograms).
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName() + "{"
			for _, l := range m.GetLabel() {
				if l.GetName() != "backend" {
					key += l.GetValue() + ","
				}
			}
			key += "}"
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return got
}

func TestMetricsFollowTheChannelsLifetime(t *testing.T) {
	m := prommetrics.New()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	o, err := adaptor.NewOpenerBuilder(memory.NewBuilder(memory.WithStore(memory.NewStore()), memory.WithMaxMessageSize(1000)),
		adaptor.WithHooks(m)).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx := context.Background()
	w, err := o.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "orders", Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := o.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "orders", AccessMode: wal.ReadOnly}})
	if err != nil {
		t.Fatal(err)
	}
	var last message.MessageID
	for range 5 {
		res, err := w.Append(ctx, message.NewMutableMessage([]byte("12345"), message.Properties{"k": "v"}))
		if err != nil {
			t.Fatal(err)
		}
		last = res.MessageID
	}
	if _, err := w.Append(ctx, message.NewMutableMessage(make([]byte, 2000), nil)); !errors.Is(err, wal.ErrMessageTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
	s, err := reader.Read(ctx, wal.ReadOption{})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		select {
		case <-s.Chan():
		case <-time.After(5 * time.Second):
			t.Fatal("no message")
		}
	}
	if err := w.Truncate(ctx, last); err != nil {
		t.Fatal(err)
	}
	got := gather(t, reg)
	want := map[string]float64{
		"mqwal_append_total{orders,ok,}": 5, "mqwal_append_total{orders,error,}": 1,
		"mqwal_append_bytes_total{orders,}": 5 * 7, "mqwal_append_latency_seconds{orders,}": 5,
		"mqwal_scan_messages_total{orders,}": 5, "mqwal_scanners{orders,}": 1,
		"mqwal_truncate_total{orders,ok,}": 1, "mqwal_scanner_reconnects_total{orders,}": 0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	_ = s.Close()
	if got := gather(t, reg); got["mqwal_scanners{orders,}"] != 0 {
		t.Errorf("closed scanner still counted: %v", got["mqwal_scanners{orders,}"])
	}
	// The channel's series stay while one of its WALs is open, and go
	// with the last.
	w.Close()
	if got := gather(t, reg); got["mqwal_append_total{orders,ok,}"] != 5 {
		t.Errorf("series gone while a WAL of the channel is open: %v", got)
	}
	reader.Close()
	if got := gather(t, reg); len(got) != 0 {
		t.Errorf("series of a closed channel: %v", got)
	}
}
