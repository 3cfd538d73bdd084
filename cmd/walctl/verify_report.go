package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// maxAnomalies bounds the anomalies a report lists (all are counted): a
// backend that loses everything would otherwise grow the report without end.
const maxAnomalies = 100000

// printedAnomalies is how many anomalies are also printed as they happen.
const printedAnomalies = 10

// anomalyLog collects anomalies: the checker's problems, and failures that
// stop a writer or reader.
type anomalyLog struct {
	mu     sync.Mutex
	list   []jsonAnomaly
	total  int
	byKind map[string]int
}

type jsonAnomaly struct {
	Kind    string `json:"kind"`
	Channel string `json:"channel,omitempty"`
	Reader  string `json:"reader,omitempty"`
	Tag     string `json:"tag,omitempty"`
	ID      string `json:"id,omitempty"`
	Outcome string `json:"outcome,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Detail  string `json:"detail"`
}

func (v *verifier) report(ps []walimplstest.Problem) {
	for _, p := range ps {
		v.anomaly(p)
	}
}

func (v *verifier) anomaly(p walimplstest.Problem) {
	l := &v.anomalies
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total++
	if l.byKind == nil {
		l.byKind = map[string]int{}
	}
	l.byKind[p.Kind]++
	j := jsonAnomaly{Kind: p.Kind, Channel: p.Channel, Reader: p.Reader, Tag: p.Tag, Outcome: p.Outcome, Rule: p.Rule, Detail: p.Detail}
	if p.ID != nil {
		j.ID = p.ID.Marshal()
	}
	if len(l.list) < maxAnomalies {
		l.list = append(l.list, j)
	}
	if l.total <= printedAnomalies {
		fmt.Fprintf(v.a.stderr, "walctl: anomaly: %s\n", describeAnomaly(j))
	}
}

func describeAnomaly(j jsonAnomaly) string {
	s := j.Kind
	if j.Channel != "" {
		s += ": channel " + j.Channel
	}
	if j.Tag != "" {
		s += ", message " + j.Tag
	}
	if j.ID != "" {
		s += " (ID " + j.ID + ")"
	}
	if j.Outcome != "" {
		s += ", " + j.Outcome
	}
	if j.Reader != "" {
		s += ", reader " + j.Reader
	}
	return s + ": " + j.Detail
}

func (l *anomalyLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// showStatus runs verify's status line: the last second's rate and
// latencies, and totals.
func (v *verifier) showStatus() (stop func()) {
	m := newMeter(v.start)
	prevA, prevE := v.appendHist.snapshot(), v.e2eHist.snapshot()
	return showStatus(v.a.stderr, func() string {
		n := v.acked.Load()
		a, e := v.appendHist.snapshot(), v.e2eHist.snapshot()
		wa, we := a.since(prevA), e.since(prevE)
		prevA, prevE = a, e
		var b strings.Builder
		if v.o.messages > 0 {
			fmt.Fprintf(&b, "verify: %d/%d acked", n, v.o.messages)
		} else {
			fmt.Fprintf(&b, "verify: %d acked in %s of %s", n, time.Since(v.start).Round(time.Second), v.o.duration)
		}
		b.WriteString(m.rateString(time.Now(), n))
		if wa.n > 0 {
			fmt.Fprintf(&b, ", append p50 %s p99 %s", ms(wa.quantile(0.5)), ms(wa.quantile(0.99)))
		}
		if we.n > 0 {
			fmt.Fprintf(&b, ", e2e p50 %s p99 %s", ms(we.quantile(0.5)), ms(we.quantile(0.99)))
		}
		st := v.chk.Stats()
		fmt.Fprintf(&b, ", %d unknown, %d anomalies", st.Unknown, v.anomalies.count())
		if v.o.faults > 0 {
			v.mu.Lock()
			fmt.Fprintf(&b, ", faults %d/%d", len(v.faults), v.o.faults)
			v.mu.Unlock()
		}
		return b.String()
	})
}

func (o verifyOpts) describe() string {
	what := fmt.Sprintf("%d messages", o.messages)
	if o.messages == 0 {
		what = "for " + o.duration.String()
	}
	rate := "flat out"
	if o.rate > 0 {
		rate = fmt.Sprintf("at %g msg/s", o.rate)
	}
	s := fmt.Sprintf("%d channel(s), %d writer(s) x %d, %d reader(s) per channel, %d-byte payloads, %s %s",
		o.channels, o.writers, o.concurrency, o.readers, o.size, what, rate)
	if o.faults > 0 {
		s += fmt.Sprintf(", %d faults (%s)", o.faults, strings.Join(o.faultKinds, ", "))
	}
	return s
}

// verifyReport is the JSON report.
type verifyReport struct {
	Backend         string           `json:"backend"`
	Where           string           `json:"where"`
	Started         string           `json:"started"`
	AppendSeconds   float64          `json:"append_seconds"`
	TotalSeconds    float64          `json:"total_seconds"`
	RatePerSecond   float64          `json:"acked_per_second"`
	Interrupted     bool             `json:"interrupted"`
	Config          jsonVerifyConfig `json:"config"`
	Counts          jsonCounts       `json:"counts"`
	AppendLatency   jsonHistogram    `json:"append_latency"`
	EndToEnd        jsonHistogram    `json:"end_to_end_latency"`
	Faults          []faultRecord    `json:"faults"`
	FaultsFailed    int              `json:"faults_failed"`
	UnknownOutcomes []jsonUnknown    `json:"unknown_outcomes"`
	AnomaliesTotal  int              `json:"anomalies_total"`
	AnomaliesByKind map[string]int   `json:"anomalies_by_kind"`
	Anomalies       []jsonAnomaly    `json:"anomalies"`
	Channels        []string         `json:"channels"`
}

type jsonVerifyConfig struct {
	Channels    int      `json:"channels"`
	Writers     int      `json:"writers"`
	Concurrency int      `json:"concurrency"`
	Readers     int      `json:"readers_per_channel"`
	Messages    int64    `json:"messages,omitempty"`
	Duration    string   `json:"duration,omitempty"`
	Rate        float64  `json:"rate"`
	Size        int      `json:"payload_bytes"`
	Faults      int      `json:"faults"`
	FaultKinds  []string `json:"fault_kinds,omitempty"`
}

type jsonCounts struct {
	Attempts    int64 `json:"attempts"`
	Acked       int64 `json:"acked"`
	NotStored   int64 `json:"not_stored"`
	Unknown     int64 `json:"unknown_outcome"`
	UnknownRead int64 `json:"unknown_outcome_read"`
	Delivered   int64 `json:"delivered"`
	Unverified  int64 `json:"unverified"`
}

type jsonUnknown struct {
	Channel string `json:"channel"`
	Tag     string `json:"tag"`
	Error   string `json:"error,omitempty"`
	ReadAs  string `json:"read_as,omitempty"`
}

func (v *verifier) buildReport(appendTime time.Duration) *verifyReport {
	g, _ := v.sess.current()
	o := v.o
	st := v.chk.Stats()
	r := &verifyReport{
		Backend: g.b.cfg.Backend, Where: where(g.b.cfg, g.b.cfg.Backend), Started: v.start.UTC().Format(time.RFC3339),
		AppendSeconds: appendTime.Seconds(), TotalSeconds: time.Since(v.start).Seconds(),
		RatePerSecond: float64(st.Acked) / appendTime.Seconds(), Interrupted: v.appendCtx.Err() != nil,
		Config: jsonVerifyConfig{Channels: o.channels, Writers: o.writers, Concurrency: o.concurrency, Readers: o.readers,
			Messages: o.messages, Rate: o.rate, Size: o.size, Faults: o.faults, FaultKinds: o.faultKinds},
		Counts: jsonCounts{Attempts: st.Attempts, Acked: st.Acked, NotStored: st.NotStored, Unknown: st.Unknown + st.InFlight,
			UnknownRead: st.UnknownRead, Delivered: st.Delivered},
		AppendLatency: v.appendHist.snapshot().json(), EndToEnd: v.e2eHist.snapshot().json(),
		Faults: []faultRecord{}, UnknownOutcomes: []jsonUnknown{}, Channels: v.names,
	}
	if o.duration > 0 {
		r.Config.Duration = o.duration.String()
	}
	if r.Interrupted {
		r.Counts.Unverified = st.Unread
	}
	v.mu.Lock()
	r.Faults = append(r.Faults, v.faults...)
	v.mu.Unlock()
	for _, f := range r.Faults {
		if f.Error != "" {
			r.FaultsFailed++
		}
	}
	for _, u := range v.chk.Unknowns() {
		j := jsonUnknown{Channel: u.Channel, Tag: u.Tag}
		if u.Err != nil {
			j.Error = u.Err.Error()
		}
		if u.ReadAs != nil {
			j.ReadAs = u.ReadAs.Marshal()
		}
		r.UnknownOutcomes = append(r.UnknownOutcomes, j)
	}
	l := &v.anomalies
	l.mu.Lock()
	r.AnomaliesTotal, r.AnomaliesByKind, r.Anomalies = l.total, maps.Clone(l.byKind), slices.Clone(l.list)
	l.mu.Unlock()
	if r.AnomaliesByKind == nil {
		r.AnomaliesByKind = map[string]int{}
	}
	if r.Anomalies == nil {
		r.Anomalies = []jsonAnomaly{}
	}
	return r
}

// finishVerify writes the report and the summary and turns the outcome
// into the exit status.
func (a *app) finishVerify(v *verifier, r *verifyReport) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	summary := v.summaryOut()
	if v.o.report == "-" {
		if _, err := a.stdout.Write(data); err != nil {
			return err
		}
	} else if err := writeFileAtomic(v.o.report, data); err != nil {
		return fmt.Errorf("verify: write the report: %w", err)
	}
	c := r.Counts
	fmt.Fprintf(summary, "appended: %d acked, %d not stored, %d unknown outcome (%d of them read) in %.1fs: %.0f msg/s\n",
		c.Acked, c.NotStored, c.Unknown, c.UnknownRead, r.AppendSeconds, r.RatePerSecond)
	fmt.Fprintf(summary, "append latency: p50 %.3fms  p99 %.3fms  max %.3fms\n", r.AppendLatency.P50MS, r.AppendLatency.P99MS, r.AppendLatency.MaxMS)
	if r.EndToEnd.Count > 0 {
		fmt.Fprintf(summary, "end-to-end latency: p50 %.3fms  p99 %.3fms  max %.3fms\n", r.EndToEnd.P50MS, r.EndToEnd.P99MS, r.EndToEnd.MaxMS)
	}
	fmt.Fprintf(summary, "read: %d messages delivered to %d reader(s) of %d channel(s)\n", c.Delivered, v.o.readers*v.o.channels, v.o.channels)
	if len(r.Faults) > 0 || v.o.faults > 0 {
		fmt.Fprintf(summary, "faults: %d of %d injected, %d failed\n", len(r.Faults)-r.FaultsFailed, v.o.faults, r.FaultsFailed)
	}
	if r.Interrupted {
		fmt.Fprintf(summary, "interrupted after %.1fs: %d acked messages not verified yet; channels left as they are\n", r.TotalSeconds, c.Unverified)
	}
	fmt.Fprintf(summary, "anomalies: %d\n", r.AnomaliesTotal)
	if v.o.report != "-" {
		fmt.Fprintf(summary, "report: %s\n", v.o.report)
	}
	switch {
	case r.AnomaliesTotal > 0:
		return fmt.Errorf("verify: %d anomalies on %s (first: %s); report: %s", r.AnomaliesTotal, r.Backend, describeAnomaly(r.Anomalies[0]), v.o.report)
	case r.FaultsFailed > 0:
		return fmt.Errorf("verify: %d of %d faults could not be injected; report: %s", r.FaultsFailed, len(r.Faults), v.o.report)
	}
	return nil
}
