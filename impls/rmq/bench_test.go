package rmq

// Benchmarks: the rmq backend and a raw log file on the same disk
// (b.TempDir), random (incompressible) payloads. The trustworthy numbers
// are the interleaved pairs of bench_paired_test.go:
//
//	go test -run '^$' -bench Paired -count 5 ./impls/rmq/
//
// The single-sided benchmarks below time one side at a time; on a shared
// machine fdatasync latency drifts 2-4x between runs, so two of them run
// back to back are no comparison:
//
//	go test -run '^$' -bench '_(RAW|RAWPRE|RMQ)$' ./impls/rmq/
//
// RAW is one file of length+crc32c records, write + fdatasync per append.
// RAWPRE writes the same records into a file pre-filled with zeros, so no
// append changes the file's size and fdatasync has no metadata to commit
// (what a log that preallocates or recycles its segments pays). RAW-GROUP
// is RAW with one flusher that writes and fdatasyncs whatever appenders
// queued meanwhile (the best a group-committing log on this disk can do).

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

const (
	benchPayload     = 1 << 10
	benchBulkPayload = 256 << 10
	benchConcurrency = 8
	benchScanCount   = 100_000
)

// payloads returns n random payloads of size bytes.
func payloads(n, size int) [][]byte {
	r := rand.NewChaCha8([32]byte{1})
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, size)
		_, _ = r.Read(out[i])
	}
	return out
}

// rawLog is the baseline: length + crc32c + payload records in one file.
type rawLog struct {
	f   *os.File
	buf []byte
	// pre > 0: the file was pre-filled to pre bytes; off is where the
	// next record goes.
	pre, off int64
}

func openRaw(tb testing.TB, path string) *rawLog {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	return &rawLog{f: f}
}

// rawRecordHeader is a raw record's length and crc32c, before its bytes.
const rawRecordHeader = 8

func appendRawRecord(dst, p []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p)))
	dst = binary.LittleEndian.AppendUint32(dst, crc32.Checksum(p, castagnoli))
	return append(dst, p...)
}

func (r *rawLog) append(p []byte) error {
	r.buf = appendRawRecord(r.buf[:0], p)
	if r.pre > 0 {
		if r.off+int64(len(r.buf)) > r.pre {
			r.off = 0 // wrap: overwriting also keeps the size
		}
		if _, err := r.f.WriteAt(r.buf, r.off); err != nil {
			return err
		}
		r.off += int64(len(r.buf))
	} else if _, err := r.f.Write(r.buf); err != nil {
		return err
	}
	return syscall.Fdatasync(int(r.f.Fd()))
}

// rawPreBytes is the size of RAWPRE's pre-filled file; appends wrap around.
const rawPreBytes = 64 << 20

// openRawPre opens a rawLog on a file pre-filled with zeros and synced.
func openRawPre(tb testing.TB, path string) *rawLog {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < rawPreBytes; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros, off); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		tb.Fatal(err)
	}
	return &rawLog{f: f, pre: rawPreBytes}
}

// rawGroup queues appends for one flusher that writes and syncs them together.
type rawGroup struct {
	mu      sync.Mutex
	cond    *sync.Cond
	pending []byte
	waiters []chan struct{}
	closed  bool
	done    chan struct{}
}

func startRawGroup(tb testing.TB, path string) *rawGroup {
	r := openRaw(tb, path)
	g := &rawGroup{done: make(chan struct{})}
	g.cond = sync.NewCond(&g.mu)
	go func() {
		defer close(g.done)
		defer r.f.Close()
		var buf []byte
		for {
			g.mu.Lock()
			for len(g.waiters) == 0 && !g.closed {
				g.cond.Wait()
			}
			if len(g.waiters) == 0 {
				g.mu.Unlock()
				return
			}
			buf, g.pending = g.pending, buf[:0]
			waiters := g.waiters
			g.waiters = nil
			g.mu.Unlock()
			if _, err := r.f.Write(buf); err != nil {
				panic(err)
			}
			if err := syscall.Fdatasync(int(r.f.Fd())); err != nil {
				panic(err)
			}
			for _, w := range waiters {
				close(w)
			}
		}
	}()
	return g
}

func (g *rawGroup) append(p []byte) {
	done := make(chan struct{})
	g.mu.Lock()
	g.pending = appendRawRecord(g.pending, p)
	g.waiters = append(g.waiters, done)
	g.cond.Signal()
	g.mu.Unlock()
	<-done
}

func (g *rawGroup) close() {
	g.mu.Lock()
	g.closed = true
	g.cond.Signal()
	g.mu.Unlock()
	<-g.done
}

func benchRawSerial(b *testing.B, r *rawLog, size int) {
	ps := payloads(64, size)
	defer r.f.Close()
	b.SetBytes(int64(size))
	i := 0
	for b.Loop() {
		if err := r.append(ps[i%len(ps)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchRMQSerial(b *testing.B, size int, opts ...Option) {
	ps := payloads(64, size)
	o := newOpener(b, b.TempDir(), opts...)
	defer o.Close()
	w := openWAL(b, o, "bench", 1, walimpls.ReadWrite)
	b.SetBytes(int64(size))
	i := 0
	ctx := context.Background()
	for b.Loop() {
		if _, err := w.Append(ctx, message.NewMutableMessage(ps[i%len(ps)], nil)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkAppend1KiB_RAW(b *testing.B) {
	benchRawSerial(b, openRaw(b, filepath.Join(b.TempDir(), "raw.log")), benchPayload)
}

func BenchmarkAppend1KiB_RAWPRE(b *testing.B) {
	benchRawSerial(b, openRawPre(b, filepath.Join(b.TempDir(), "rawpre.log")), benchPayload)
}
func BenchmarkAppend1KiB_RMQ(b *testing.B) { benchRMQSerial(b, benchPayload) }

// BenchmarkAppend1KiB_RMQNOSYNC is SyncNone: no fsync hides the driver's
// own cost (the committer's hand-off, Pebble's commit).
func BenchmarkAppend1KiB_RMQNOSYNC(b *testing.B) {
	benchRMQSerial(b, benchPayload, WithSyncMode(SyncNone))
}
func BenchmarkBulk256KiB_RAW(b *testing.B) {
	benchRawSerial(b, openRaw(b, filepath.Join(b.TempDir(), "raw.log")), benchBulkPayload)
}
func BenchmarkBulk256KiB_RMQ(b *testing.B) { benchRMQSerial(b, benchBulkPayload) }

// parallel runs benchConcurrency goroutines on 2 cores or more.
func parallel(b *testing.B, body func(pb *testing.PB, ps [][]byte)) {
	ps := payloads(64, benchPayload)
	b.SetBytes(benchPayload)
	b.SetParallelism(max(1, benchConcurrency/runtimeProcs()))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) { body(pb, ps) })
}

func BenchmarkAppend1KiBx8_RAWGROUP(b *testing.B) {
	g := startRawGroup(b, filepath.Join(b.TempDir(), "raw.log"))
	defer g.close()
	parallel(b, func(pb *testing.PB, ps [][]byte) {
		for i := 0; pb.Next(); i++ {
			g.append(ps[i%len(ps)])
		}
	})
}

func BenchmarkAppend1KiBx8_RMQ(b *testing.B) { benchRMQParallel(b) }

// BenchmarkAppend1KiBx8_RMQGROUP is SyncGroup with its default window.
func BenchmarkAppend1KiBx8_RMQGROUP(b *testing.B) { benchRMQParallel(b, WithSyncMode(SyncGroup)) }

// BenchmarkAppend1KiBx8_RMQNOSYNC is SyncNone with 8 appenders.
func BenchmarkAppend1KiBx8_RMQNOSYNC(b *testing.B) { benchRMQParallel(b, WithSyncMode(SyncNone)) }

func benchRMQParallel(b *testing.B, opts ...Option) {
	o := newOpener(b, b.TempDir(), opts...)
	defer o.Close()
	w := openWAL(b, o, "bench", 1, walimpls.ReadWrite)
	parallel(b, func(pb *testing.PB, ps [][]byte) {
		for i := 0; pb.Next(); i++ {
			if _, err := w.Append(context.Background(), message.NewMutableMessage(ps[i%len(ps)], nil)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// dropCache writes back and evicts the page cache of every file under
// path, so the next read comes from the disk: a cold start.
func dropCache(tb testing.TB, path string) {
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := f.Sync(); err != nil {
			return err
		}
		return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// scanRaw reads and checks every record of a raw log.
func scanRaw(tb testing.TB, path string, want int) {
	n, err := readRawLog(path, func(int64, []byte) error { return nil })
	if err != nil {
		tb.Fatal(err)
	}
	if n != want {
		tb.Fatalf("read %d records, want %d", n, want)
	}
}

// scanRawAPI reads the raw log as a driver would: behind helper.Scanner,
// each record a message with an Int64ID, handed over the scanner's
// channel (default buffer) to this goroutine. What it costs above scanRaw
// is what the walimpls scanner API costs any driver.
func scanRawAPI(tb testing.TB, path string, want int) {
	s := helper.NewScanner(Name, walimpls.ReadOption{}.BufferSize(), func(ctx context.Context, emit helper.Emit) error {
		_, err := readRawLog(path, func(seq int64, p []byte) error {
			return emit(message.NewImmutableMessage(helper.NewInt64ID(Name, seq), "bench", p, nil))
		})
		return err
	})
	defer s.Close()
	for n := 0; n < want; n++ {
		if _, ok := <-s.Chan(); !ok {
			tb.Fatalf("raw scanner ended at %d: %v", n, s.Error())
		}
	}
}

// readRawLog reads the records of a raw log in order, checks each one's
// crc32c and hands it, in memory of its own, to take, as a reader handing
// records to its consumer would.
func readRawLog(path string, take func(seq int64, p []byte) error) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [rawRecordHeader]byte
	n := 0
	for {
		if _, err := io.ReadFull(r, hdr[:]); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, err
		}
		p := make([]byte, binary.LittleEndian.Uint32(hdr[:4]))
		if _, err := io.ReadFull(r, p); err != nil {
			return n, err
		}
		if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			return n, fmt.Errorf("raw record %d: crc mismatch", n)
		}
		if err := take(int64(n), p); err != nil {
			return n, err
		}
		n++
	}
}

// scanRMQ opens dir with a new Pebble instance (empty block cache) and
// scans the channel to its end.
func scanRMQ(tb testing.TB, dir string, want int) {
	o := newOpener(tb, dir)
	defer o.Close()
	w := openWAL(tb, o, "bench", 1, walimpls.ReadOnly)
	s, err := w.Read(context.Background(), walimpls.ReadOption{})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	for n := 0; n < want; n++ {
		if _, ok := <-s.Chan(); !ok {
			tb.Fatalf("scanner ended at %d: %v", n, s.Error())
		}
	}
}

// writeRawScanLog writes benchScanCount records to a new raw log.
func writeRawScanLog(b *testing.B) string {
	ps := payloads(1024, benchPayload)
	path := filepath.Join(b.TempDir(), "raw.log")
	// Sized up front: growing 100 MB by append is one long copy the
	// collector cannot preempt, which made profiles of the scans show the
	// setup's stall as the scans' cost.
	buf := make([]byte, 0, benchScanCount*(rawRecordHeader+benchPayload))
	for i := range benchScanCount {
		buf = appendRawRecord(buf, ps[i%len(ps)])
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

func benchScanRaw(b *testing.B, cold bool) {
	path := writeRawScanLog(b)
	scanRaw(b, path, benchScanCount)
	b.SetBytes(benchScanCount * benchPayload)
	for b.Loop() {
		if cold {
			b.StopTimer()
			dropCache(b, path)
			b.StartTimer()
		}
		scanRaw(b, path, benchScanCount)
	}
}

func benchScanRMQ(b *testing.B, cold bool) {
	dir := b.TempDir()
	fillChannel(b, dir, "bench", benchScanCount, benchPayload)
	scanRMQ(b, dir, benchScanCount)
	b.SetBytes(benchScanCount * benchPayload)
	for b.Loop() {
		if cold {
			b.StopTimer()
			dropCache(b, dir)
			b.StartTimer()
		}
		scanRMQ(b, dir, benchScanCount)
	}
}

// Scan100k: a new process's view of 100k messages: a new Pebble instance
// (empty block cache) per iteration. Cold: the page cache of the data is
// dropped before each iteration, so both read from the disk. Warm: both
// read from the OS page cache.
func BenchmarkScan100kCold_RAW(b *testing.B) { benchScanRaw(b, true) }
func BenchmarkScan100kCold_RMQ(b *testing.B) { benchScanRMQ(b, true) }
func BenchmarkScan100kWarm_RAW(b *testing.B) { benchScanRaw(b, false) }
func BenchmarkScan100kWarm_RMQ(b *testing.B) { benchScanRMQ(b, false) }

// fillChannel appends n random payloads without waiting for fsync (setup
// speed) and closes the opener, which flushes.
func fillChannel(tb testing.TB, dir, name string, n, size int, opts ...Option) {
	ps := payloads(1024, size)
	o := newOpener(tb, dir, append([]Option{WithSyncMode(SyncNone)}, opts...)...)
	defer o.Close()
	w := openWAL(tb, o, name, 1, walimpls.ReadWrite)
	var wg sync.WaitGroup
	ctx := context.Background()
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < n; i += 4 {
				if _, err := w.Append(ctx, message.NewMutableMessage(ps[i%len(ps)], nil)); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
