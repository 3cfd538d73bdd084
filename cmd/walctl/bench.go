package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// benchHeader is the prefix of every bench payload: appender (uint32) and its
// sequence number (uint64). The rest is derived from them, so every message
// read back can be checked byte for byte without keeping what was sent.
const benchHeader = 12

type benchOpts struct {
	channels    int
	concurrency int
	size        int
	count       int
	duration    time.Duration
	term        int64
	keep        bool
	readTimeout time.Duration
}

func newBenchCmd(a *app) *cobra.Command {
	var o benchOpts
	cmd := &cobra.Command{
		Use:   "bench [--channels N] [--concurrency N] [--size BYTES] [--count N | --duration D]",
		Short: "Append to fresh channels, read everything back, and verify it",
		Long: `bench opens --channels fresh channels (named bench-<random>-<n>) and runs
--concurrency appenders that spread their appends round-robin over them
(the k-th append of the run goes to channel k mod --channels), every append
waiting for its own durable acknowledgement, until --count messages in total
are acked or --duration has passed. It then reads every channel back from the
start and checks that each acked message comes back exactly once, in its
appender's order, with strictly increasing ids, byte-identical; anything
else fails the run.

It prints what opening the channels cost: the time per channel, and per
channel the heap in use (HeapInuse after a GC, before and after opening them
all, divided by --channels) and the goroutines (the same delta); then append
throughput, the p50, p99 and max latency of one append (from the call to its
acknowledgement, through the whole mqwal stack), and read-back throughput. The read back ends at the newest ID each channel had when it
began, so a message beyond the acked ones fails the run. Progress goes to
stderr: a line rewritten in place on a terminal, a line per second
otherwise; rates appear once a second has passed. Afterwards the bench
channels are truncated unless --keep.

Interrupted (Ctrl-C, SIGTERM), bench stops appending at once, prints what it
measured so far, leaves its channels as they are (not read back, not
truncated: their names are printed) and exits with status 1.`,
		Example: `  walctl bench                                    # rmq in ./mqwal-data, 10000 x 1 KiB
  walctl bench --channels 4 --concurrency 16 --size 4096 --duration 30s
  walctl bench --channels 10000 --concurrency 16 --count 100000   # scale
  walctl --config kafka.yaml bench --count 100000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("duration") && !cmd.Flags().Changed("count") {
				o.count = 0
			}
			return a.bench(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.channels, "channels", 1, "number of channels")
	f.IntVar(&o.concurrency, "concurrency", 8, "concurrent appenders, spread round-robin over the channels")
	f.IntVar(&o.size, "size", 1024, "payload size in `BYTES` (at least 12)")
	f.IntVar(&o.count, "count", 10000, "messages to append in total")
	f.DurationVar(&o.duration, "duration", 0, "append for this long instead of a fixed --count")
	f.Int64Var(&o.term, "term", 1, "writer term to open the channels with")
	f.BoolVar(&o.keep, "keep", false, "do not truncate the bench channels afterwards")
	f.DurationVar(&o.readTimeout, "read-timeout", 30*time.Second, "fail the read back after this long without a message")
	cmd.MarkFlagsMutuallyExclusive("count", "duration")
	return cmd
}

func (o benchOpts) validate() error {
	switch {
	case o.channels < 1:
		return usagef("--channels %d: want >= 1", o.channels)
	case o.concurrency < 1:
		return usagef("--concurrency %d: want >= 1", o.concurrency)
	case o.size < benchHeader:
		return usagef("--size %d: want >= %d (each payload carries its appender and sequence number)", o.size, benchHeader)
	case o.duration < 0:
		return usagef("--duration %s: want > 0", o.duration)
	case o.duration == 0 && o.count < 1:
		return usagef("--count %d: want >= 1", o.count)
	case o.readTimeout <= 0:
		return usagef("--read-timeout %s: want > 0", o.readTimeout)
	}
	return nil
}

// benchAppender is one appender's state. Its sequence numbers run over
// all channels: chans[seq] is the channel its seq-th message went to.
type benchAppender struct {
	id    int
	block []byte // random bytes the payloads are cut from
	acked uint64 // sequence numbers 0..acked-1 were acknowledged
	chans []int32
	lat   []time.Duration
}

// payload is appender w's seq-th message: header, then size-12 bytes of its
// random block starting at an offset that depends on seq.
func (b *benchAppender) payload(seq uint64, size int) []byte {
	p := make([]byte, size)
	binary.BigEndian.PutUint32(p, uint32(b.id))
	binary.BigEndian.PutUint64(p[4:], seq)
	off := int(seq % 64)
	copy(p[benchHeader:], b.block[off:off+size-benchHeader])
	return p
}

type benchChannel struct {
	name   string
	w      wal.WAL
	mu     sync.Mutex
	lastID message.MessageID
	end    message.MessageID // the newest ID when reading back began; nil: unknown
}

func (c *benchChannel) acked(id message.MessageID) {
	c.mu.Lock()
	if c.lastID == nil || c.lastID.LT(id) {
		c.lastID = id
	}
	c.mu.Unlock()
}

func (a *app) bench(ctx context.Context, o benchOpts) error {
	if err := o.validate(); err != nil {
		return err
	}
	b, err := a.open()
	if err != nil {
		return err
	}
	a.releaseLater(ctx, b)
	cfg, opener := b.cfg, b.opener

	var tag [4]byte
	_, _ = crand.Read(tag[:])
	prefix := "bench-" + hex.EncodeToString(tag[:]) + "-"
	what := fmt.Sprintf("%d messages", o.count)
	if o.count == 0 {
		what = "for " + o.duration.String()
	}
	fmt.Fprintf(a.stdout, "bench: backend %s (%s); %d channel(s), %d appenders round-robin over them, %d-byte payloads, %s\n",
		cfg.Backend, where(cfg, cfg.Backend), o.channels, o.concurrency, o.size, what)

	// Open, measuring what the open channels hold.
	before := takeFootprint()
	ostart := time.Now()
	chans := make([]*benchChannel, o.channels)
	for i := range chans {
		name := fmt.Sprintf("%s%d", prefix, i)
		w, err := opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: name, Term: o.term, AccessMode: wal.ReadWrite}})
		if err != nil {
			return err
		}
		// Closed with the opener (b.release).
		chans[i] = &benchChannel{name: name, w: w}
	}
	oelapsed := time.Since(ostart)
	per := takeFootprint().perChannel(before, o.channels)
	// The heap can shrink while few channels open (a GC freed more than
	// they took): no measurable growth, not a negative cost.
	heap := fmt.Sprintf("%.1f", per.heapKiB)
	if per.heapKiB < 0 {
		heap = "~0"
	}
	fmt.Fprintf(a.stdout, "open: %d channel(s) in %s: %s per channel; per channel %s KiB heap, %.2f goroutines\n",
		o.channels, ms(oelapsed), ms(oelapsed/time.Duration(o.channels)), heap, per.goroutines)
	apps := make([]*benchAppender, o.concurrency)
	seed := rand.Uint64()
	for i := range apps {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		block := make([]byte, o.size+64)
		for j := range block {
			block[j] = byte(r.Uint32())
		}
		apps[i] = &benchAppender{id: i, block: block}
	}

	// Append.
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next, done atomic.Int64
		turn       atomic.Uint64 // round-robin over the channels
		errOnce    sync.Once
		firstErr   error
		wg         sync.WaitGroup
	)
	start := time.Now()
	for _, ap := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if o.count > 0 {
					if next.Add(1) > int64(o.count) {
						return
					}
				} else if time.Since(start) >= o.duration {
					return
				}
				if actx.Err() != nil {
					return
				}
				ci := int32((turn.Add(1) - 1) % uint64(len(chans)))
				ch := chans[ci]
				msg := message.NewMutableMessage(ap.payload(ap.acked, o.size), nil)
				t0 := time.Now()
				res, err := ch.w.Append(actx, msg)
				d := time.Since(t0)
				if err != nil {
					errOnce.Do(func() {
						firstErr = fmt.Errorf("append to %s after %d acked messages: %w", ch.name, done.Load(), err)
						cancel()
					})
					return
				}
				ap.lat = append(ap.lat, d)
				ap.chans = append(ap.chans, ci)
				ap.acked++
				ch.acked(res.MessageID)
				done.Add(1)
			}
		}()
	}
	m := newMeter(start)
	stopProg := showStatus(a.stderr, func() string {
		n := done.Load()
		if o.count > 0 {
			return fmt.Sprintf("append: %d/%d messages%s", n, o.count, m.rateString(time.Now(), n))
		}
		return fmt.Sprintf("append: %d messages in %s of %s%s", n, time.Since(start).Round(time.Second), o.duration, m.rateString(time.Now(), n))
	})
	wg.Wait()
	elapsed := time.Since(start)
	stopProg()
	if firstErr != nil && ctx.Err() == nil {
		return firstErr
	}
	total := done.Load()
	var lats []time.Duration
	for _, ap := range apps {
		lats = append(lats, ap.lat...)
	}
	slices.Sort(lats)
	mib := float64(total) * float64(o.size) / (1 << 20)
	fmt.Fprintf(a.stdout, "append: %d messages (%.1f MiB) in %s: %.0f msg/s, %.1f MiB/s\n",
		total, mib, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), mib/elapsed.Seconds())
	if len(lats) > 0 {
		fmt.Fprintf(a.stdout, "append latency: p50 %s  p99 %s  max %s\n",
			ms(percentile(lats, 0.50)), ms(percentile(lats, 0.99)), ms(lats[len(lats)-1]))
	}
	if ctx.Err() != nil {
		// Interrupted: what was measured is printed above; reading back and
		// truncating could take long on a struggling backend, so the
		// channels stay for a later look (walctl scan, truncate).
		fmt.Fprintf(a.stdout, "interrupted: not read back; channels %s0..%d left as they are\n", prefix, o.channels-1)
		return fmt.Errorf("bench interrupted after %d acked messages", total)
	}

	// Read back and verify, up to the newest ID each channel had now.
	for _, ch := range chans {
		end, ok, err := latestID(ctx, b.opener, ch.name)
		if err != nil {
			return fmt.Errorf("read back %s: %w", ch.name, err)
		}
		if ok && end != nil {
			ch.end = end
			b.ends.setEnd(ch.name, end)
		}
	}
	rstart := time.Now()
	errs := make([]error, len(chans))
	var (
		rwg   sync.WaitGroup
		nread atomic.Int64
	)
	rm := newMeter(rstart)
	stopProg = showStatus(a.stderr, func() string {
		n := nread.Load()
		return fmt.Sprintf("read back: %d/%d messages%s", n, total, rm.rateString(time.Now(), n))
	})
	// Each channel's acked messages, by appender: the sequence numbers the
	// channel must hold, in order.
	want := make([]map[int][]uint64, len(chans))
	for i := range want {
		want[i] = map[int][]uint64{}
	}
	for _, ap := range apps {
		for seq, ci := range ap.chans {
			want[ci][ap.id] = append(want[ci][ap.id], uint64(seq))
		}
	}
	// A bounded number of channels read back at a time: 10,000 scanners at
	// once would measure the backend's worst case, not verify.
	sem := make(chan struct{}, benchReaders)
	for i, ch := range chans {
		rwg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; rwg.Done() }()
			errs[i] = a.benchVerify(ctx, opener, ch, apps, want[i], o, &nread)
		}()
	}
	rwg.Wait()
	relapsed := time.Since(rstart)
	stopProg()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "read back: %d messages in %s: %.0f msg/s\n", total, relapsed.Round(time.Millisecond), float64(total)/relapsed.Seconds())
	fmt.Fprintf(a.stdout, "verified: all %d acked messages read back once each, in order, byte-identical\n", total)

	if o.keep {
		fmt.Fprintf(a.stdout, "kept channels %s0..%d\n", prefix, o.channels-1)
		return nil
	}
	for _, ch := range chans {
		if ch.lastID == nil {
			continue
		}
		if err := ch.w.Truncate(ctx, ch.lastID); err != nil {
			return fmt.Errorf("truncate bench channel %s: %w", ch.name, err)
		}
	}
	return nil
}

// benchReaders is how many channels bench reads back at a time.
const benchReaders = 64

// benchVerify reads a channel from the start through a read-only WAL (so
// no write-ahead cache can answer) and checks it against what was acked:
// want[appender] is the sequence numbers acked on it, in order.
func (a *app) benchVerify(ctx context.Context, opener wal.Opener, ch *benchChannel, apps []*benchAppender, want map[int][]uint64, o benchOpts, nread *atomic.Int64) error {
	var total uint64
	for _, seqs := range want {
		total += uint64(len(seqs))
	}
	w, err := opener.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: ch.name, AccessMode: wal.ReadOnly}})
	if err != nil {
		return fmt.Errorf("read back %s: %w", ch.name, err)
	}
	defer w.Close()
	s, err := w.Read(ctx, wal.ReadOption{Name: "walctl-bench", DeliverPolicy: wal.DeliverAll(), ReadAheadBufferSize: 1024})
	if err != nil {
		return fmt.Errorf("read back %s: %w", ch.name, err)
	}
	defer s.Close()
	next := map[int]int{} // index into want[appender]
	var prev message.MessageID
	var got uint64
	timer := time.NewTimer(o.readTimeout)
	defer timer.Stop()
	check := func(m message.ImmutableMessage) error {
		p := m.Payload()
		if len(p) != o.size {
			return fmt.Errorf("message %s is %d bytes, want %d", m.MessageID(), len(p), o.size)
		}
		ap := int(binary.BigEndian.Uint32(p))
		seq := binary.BigEndian.Uint64(p[4:])
		seqs, mine := want[ap]
		switch {
		case !mine:
			return fmt.Errorf("message %s claims appender %d, which did not write this channel", m.MessageID(), ap)
		case next[ap] >= len(seqs):
			return fmt.Errorf("message %s is appender %d's #%d, which was never acked on this channel after its #%d (phantom or duplicate)", m.MessageID(), ap, seq, seqs[len(seqs)-1])
		case seq != seqs[next[ap]]:
			return fmt.Errorf("message %s is appender %d's #%d, want #%d (lost, duplicated or reordered)", m.MessageID(), ap, seq, seqs[next[ap]])
		case prev != nil && !prev.LT(m.MessageID()):
			return fmt.Errorf("message id %s does not follow %s", m.MessageID(), prev)
		}
		if exp := apps[ap].payload(seq, o.size); !bytes.Equal(p, exp) {
			i := 0
			for i < len(p) && p[i] == exp[i] {
				i++
			}
			return fmt.Errorf("message %s differs from what was appended at byte %d", m.MessageID(), i)
		}
		next[ap]++
		prev = m.MessageID()
		return nil
	}
	for got < total {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				return fmt.Errorf("read back %s: scanner ended after %d of %d messages: %w", ch.name, got, total, s.Error())
			}
			if err := check(m); err != nil {
				return fmt.Errorf("read back %s: %w", ch.name, err)
			}
			got++
			nread.Add(1)
			timer.Reset(o.readTimeout)
		case <-timer.C:
			return fmt.Errorf("read back %s: got %d of %d messages, then nothing for %s", ch.name, got, total, o.readTimeout)
		case <-ctx.Done():
			return fmt.Errorf("read back %s interrupted after %d of %d messages", ch.name, got, total)
		}
	}
	// Everything acked has been seen; anything more would be a phantom or a
	// duplicate. Read on to the newest ID the channel had when reading
	// began, or, when the backend cannot tell it, give it a moment.
	quiet := time.NewTimer(200 * time.Millisecond)
	defer quiet.Stop()
	var quietC <-chan time.Time
	if ch.end == nil {
		quietC = quiet.C
	}
	select {
	case m, ok := <-s.Chan():
		switch {
		case ok:
			return fmt.Errorf("read back %s: unexpected message %s after all %d acked ones: %w", ch.name, m.MessageID(), total, check(m))
		case !reachedEnd(s.Error()):
			return fmt.Errorf("read back %s: scanner ended after all %d messages: %w", ch.name, total, s.Error())
		}
	case <-quietC:
	case <-timer.C:
		return fmt.Errorf("read back %s: got all %d messages, then neither more nor the end for %s", ch.name, total, o.readTimeout)
	case <-ctx.Done():
		return fmt.Errorf("read back %s interrupted after all %d messages", ch.name, total)
	}
	return nil
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }

// footprint is what the process holds: heap in use after a GC, goroutines.
type footprint struct {
	heapInuse  uint64
	goroutines int
}

func takeFootprint() footprint {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return footprint{heapInuse: m.HeapInuse, goroutines: runtime.NumGoroutine()}
}

// perChannel is the growth since before, divided by n channels.
type perChannel struct{ heapKiB, goroutines float64 }

func (f footprint) perChannel(before footprint, n int) perChannel {
	return perChannel{
		heapKiB:    (float64(f.heapInuse) - float64(before.heapInuse)) / 1024 / float64(n),
		goroutines: float64(f.goroutines-before.goroutines) / float64(n),
	}
}
