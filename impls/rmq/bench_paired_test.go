package rmq

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqwal/mqwal/internal/benchkit"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// The *Paired benchmarks interleave rmq and its raw baseline in short
// rounds within one benchmark, on the same disk, so that the fdatasync
// latency drifting on a shared machine (2-4x between runs) hits both
// alike. Each reports both sides' time per op and
//
//	throughput-ratio = baseline time / rmq time   (>= 1: rmq is as fast)
//
// Take min/median/max of the ratio over the runs of
//
//	go test -run '^$' -bench Paired -count 5 ./impls/rmq/
//
// Baselines (bench_test.go): RAW appends length+crc32c records to a growing
// O_APPEND file, write + fdatasync each; RAWPRE writes the same records into
// a file pre-filled with zeros (no size change, so fdatasync has no
// metadata to journal: what a log with preallocated or recycled segments
// pays); RAW-GROUP is RAW with one flusher that writes and fdatasyncs what
// appenders queued meanwhile.
func BenchmarkAppendPaired(b *testing.B) {
	pairs := []struct {
		name       string
		size, conc int
		opts       []Option
		base       func(b *testing.B, size int) (op func() error, done func())
		channels   int // appends go round-robin over this many channels (0: 1)
	}{
		{"1KiB-RAW", benchPayload, 1, nil, rawOp, 0},
		{"1KiB-RAWPRE", benchPayload, 1, nil, rawPreOp, 0},
		{"1KiBx8-RAWGROUP", benchPayload, benchConcurrency, nil, rawGroupOp, 0},
		{"256KiB-RAW", benchBulkPayload, 1, nil, rawOp, 0},
		// The journal is shared by every channel: 16 appenders spread over
		// 1,000 channels share fsyncs as they would on one.
		{"1KiBx16-1000ch-RAWGROUP", benchPayload, 16, nil, rawGroupOp, 1000},
		{"1KiBx16-1ch-RAWGROUP", benchPayload, 16, nil, rawGroupOp, 1},
		// Every message through the value log (WithValueLogThreshold(1),
		// opt-in: it keeps a segment open and up to 1 MiB of zeros ahead
		// per channel being written).
		{"1KiB-RAW-vlog", benchPayload, 1, []Option{WithValueLogThreshold(1)}, rawOp, 0},
		{"1KiB-RAWPRE-vlog", benchPayload, 1, []Option{WithValueLogThreshold(1)}, rawPreOp, 0},
		{"1KiBx8-RAWGROUP-vlog", benchPayload, benchConcurrency, []Option{WithValueLogThreshold(1)}, rawGroupOp, 0},
	}
	for _, p := range pairs {
		b.Run(p.name, func(b *testing.B) {
			ps := payloads(64, p.size)
			o := newOpener(b, b.TempDir(), p.opts...)
			defer o.Close()
			ws := []walimpls.WALImpls{openWAL(b, o, "bench", 1, walimpls.ReadWrite)}
			for c := 1; c < p.channels; c++ {
				ws = append(ws, openWAL(b, o, fmt.Sprint("bench-", c), 1, walimpls.ReadWrite))
			}
			var i atomic.Int64
			rmqOp := func() error {
				n := int(i.Add(1))
				_, err := ws[n%len(ws)].Append(context.Background(), message.NewMutableMessage(ps[n%len(ps)], nil))
				return err
			}
			base, done := p.base(b, p.size)
			defer done()
			// A round is a few dozen fsyncs: short enough that both sides
			// see the same load, long enough to amortize the switch.
			round := 32 * p.conc
			pairedRounds(b, p.conc, round, rmqOp, base)
		})
	}
}

// pairedRounds alternates rounds of n ops of each side over conc
// goroutines until b.N ops of each ran, and reports the times and ratio.
func pairedRounds(b *testing.B, conc, n int, rmqOp, baseOp func() error) {
	var rmqT, baseT time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += n {
		k := min(n, b.N-done)
		rmqT += timeRound(b, conc, k, rmqOp)
		baseT += timeRound(b, conc, k, baseOp)
	}
	b.StopTimer()
	reportPair(b, rmqT, baseT, b.N, "op")
}

// reportPair reports each side's time per unit and their ratio.
func reportPair(b *testing.B, rmqT, baseT time.Duration, n int, unit string) {
	b.ReportMetric(float64(rmqT.Nanoseconds())/float64(n), "rmq-ns/"+unit)
	b.ReportMetric(float64(baseT.Nanoseconds())/float64(n), "base-ns/"+unit)
	b.ReportMetric(float64(baseT)/float64(rmqT), "throughput-ratio")
}

// timeRound runs op n times over conc goroutines and returns the wall time.
func timeRound(b *testing.B, conc, n int, op func() error) time.Duration {
	d, err := benchkit.Round(conc, n, op)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func rawOp(b *testing.B, size int) (func() error, func()) {
	ps := payloads(64, size)
	r := openRaw(b, filepath.Join(b.TempDir(), "raw.log"))
	i := 0
	return func() error { i++; return r.append(ps[i%len(ps)]) }, func() { _ = r.f.Close() }
}

func rawPreOp(b *testing.B, size int) (func() error, func()) {
	ps := payloads(64, size)
	r := openRawPre(b, filepath.Join(b.TempDir(), "rawpre.log"))
	i := 0
	return func() error { i++; return r.append(ps[i%len(ps)]) }, func() { _ = r.f.Close() }
}

func rawGroupOp(b *testing.B, size int) (func() error, func()) {
	ps := payloads(64, size)
	g := startRawGroup(b, filepath.Join(b.TempDir(), "raw.log"))
	var i atomic.Int64
	return func() error { g.append(ps[int(i.Add(1))%len(ps)]); return nil }, g.close
}

// BenchmarkScanPaired alternates a cold reopen + scan of 100k 1 KiB
// messages by rmq (a new Pebble instance, the page cache of the data
// directory dropped) with one of the raw log (its page cache dropped; it
// checks each record's crc32c and copies it out, as a reader handing
// records to its consumer would). One op is one scan of each side; the
// side that goes first alternates, and the heap is collected before each
// side, so neither pays for the other's garbage. Besides the wall-time
// ratio it reports both sides' CPU time and their ratio: on a shared
// machine the wall time follows the load, the CPU time much less.
//
// RAW is the bare loop. RAWAPI reads the same log behind the driver's
// scanner API (helper.Scanner: a message with its ID per record, handed
// over the scanner's channel), the floor for any driver; API-floor pairs
// RAWAPI with RAW, so it says what the API alone costs.
func BenchmarkScanPaired(b *testing.B) {
	for _, p := range []struct {
		name string
		opts []Option
		base func(tb testing.TB, path string, want int)
	}{
		{"100kCold-RAW", nil, scanRaw},
		{"100kCold-RAW-vlog", []Option{WithValueLogThreshold(1)}, scanRaw},
		{"100kCold-RAWAPI", nil, scanRawAPI},
	} {
		b.Run(p.name, func(b *testing.B) {
			dir := b.TempDir()
			fillChannel(b, dir, "bench", benchScanCount, benchPayload, p.opts...)
			raw := writeRawScanLog(b)
			scanRMQ(b, dir, benchScanCount)
			pairScans(b, "rmq", func() { scanRMQ(b, dir, benchScanCount) },
				func() { p.base(b, raw, benchScanCount) }, dir, raw)
		})
	}
	b.Run("100kCold-API-floor", func(b *testing.B) {
		raw := writeRawScanLog(b)
		pairScans(b, "api", func() { scanRawAPI(b, raw, benchScanCount) },
			func() { scanRaw(b, raw, benchScanCount) }, raw)
	})
}

// pairScans runs b.N rounds of side and base, each after the page cache
// of paths is dropped and the heap collected, the first of the two
// alternating, and reports their times per scan, CPU times and ratios.
func pairScans(b *testing.B, sideName string, side, base func(), paths ...string) {
	var sideT, baseT, sideCPU, baseCPU time.Duration
	timed := func(scan func(), wall, cpu *time.Duration) {
		for _, p := range paths {
			dropCache(b, p)
		}
		runtime.GC()
		b.StartTimer()
		t0, c0 := time.Now(), benchkit.CPUTime()
		scan()
		*wall += time.Since(t0)
		*cpu += benchkit.CPUTime() - c0
		b.StopTimer()
	}
	b.ResetTimer()
	b.StopTimer()
	for i := range b.N {
		if i%2 == 0 {
			timed(side, &sideT, &sideCPU)
			timed(base, &baseT, &baseCPU)
		} else {
			timed(base, &baseT, &baseCPU)
			timed(side, &sideT, &sideCPU)
		}
	}
	b.ReportMetric(float64(sideT.Nanoseconds())/float64(b.N), sideName+"-ns/scan")
	b.ReportMetric(float64(baseT.Nanoseconds())/float64(b.N), "base-ns/scan")
	b.ReportMetric(float64(baseT)/float64(sideT), "throughput-ratio")
	b.ReportMetric(float64(sideCPU.Nanoseconds())/float64(b.N), sideName+"-cpu-ns/scan")
	b.ReportMetric(float64(baseCPU.Nanoseconds())/float64(b.N), "base-cpu-ns/scan")
	b.ReportMetric(float64(baseCPU)/float64(sideCPU), "cpu-ratio")
}
