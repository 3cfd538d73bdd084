package rmq

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

// The crash test re-executes the test binary as an appender (TestMain sees
// envCrashChild) and kills it with SIGKILL.
const (
	envCrashChild = "MQWAL_RMQ_CRASH_CHILD"
	envCrashDir   = "MQWAL_RMQ_CRASH_DIR"
	envCrashTerm  = "MQWAL_RMQ_CRASH_TERM"
	// envCrashAllVlog: every record goes to the value log, whose segments
	// are small, so kills land in segment rotations and preallocations.
	envCrashAllVlog = "MQWAL_RMQ_CRASH_ALL_VLOG"
	// envCrashKillAt: the child kills itself with SIGKILL at a journal
	// operation, "<point> <k>" (see journalKiller).
	envCrashKillAt = "MQWAL_RMQ_CRASH_KILL_AT"
	crashChannel   = "crash"
	crashWriters   = 4
	// Every third message of a writer is this large, above the child's
	// value log threshold, so kills land in value log writes and lost
	// pointers are rebuilt on the next open.
	crashLarge     = 100 << 10
	crashThreshold = 16 << 10
)

// crashPayload is the payload the child's writer g appends as its n-th
// message in term: its first 20 bytes say (term, g, n), the rest follows
// from them, so the parent can check messages that were written but never
// reported as acked.
func crashPayload(term, g, n uint64) []byte {
	r := rand.New(rand.NewPCG(term<<32|g, n))
	size := 24 + r.IntN(3000)
	if n%3 == 2 {
		size = crashLarge // in the value log
	}
	p := make([]byte, size)
	binary.BigEndian.PutUint64(p, term)
	binary.BigEndian.PutUint64(p[8:], g)
	binary.BigEndian.PutUint64(p[16:], n)
	for i := 24; i < len(p); i++ {
		p[i] = byte(r.Uint32())
	}
	return p
}

func checkCrashPayload(p []byte) error {
	if len(p) < 24 {
		return fmt.Errorf("payload of %d bytes", len(p))
	}
	want := crashPayload(binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:]), binary.BigEndian.Uint64(p[16:]))
	if string(want) != string(p) {
		return fmt.Errorf("payload %x... differs from what its writer made", p[:24])
	}
	return nil
}

func hashHex(p []byte) string {
	h := sha256.Sum256(p)
	return hex.EncodeToString(h[:])
}

// crashChild appends until killed, printing "ack <id> <sha256>" after each
// acknowledged append.
func crashChild() int {
	term, _ := strconv.ParseUint(os.Getenv(envCrashTerm), 10, 64)
	opts := []Option{WithPath(os.Getenv(envCrashDir)), WithValueLogThreshold(crashThreshold), withSegmentBytes(1 << 20)}
	switch os.Getenv(envCrashAllVlog) {
	case "journal":
		// Every record in the journal, whose 64 KiB segments rotate every
		// few appends (a 100 KiB record gets a segment of its own), with
		// zeros written after the frames of most groups, and the reclaimer
		// deleting segments behind them.
		opts = append(opts, WithValueLogThreshold(0), withSegmentBytes(64<<10))
	case "1":
		// A segment every ~3 large records; its first small batch
		// preallocates the rest of it with zeros.
		opts = append(opts, WithValueLogThreshold(1), withSegmentBytes(256<<10))
	}
	if at := os.Getenv(envCrashKillAt); at != "" {
		k := &journalKiller{}
		if _, err := fmt.Sscan(at, &k.point, &k.k); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		opts = append(opts, WithPebbleOptions(func(o *pebble.Options) { o.FS = errorfs.Wrap(vfs.Default, k) }))
	}
	o, err := NewBuilder(opts...).Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: crashChannel, Term: int64(term)}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range uint64(crashWriters) {
		wg.Go(func() {
			for n := uint64(0); ; n++ {
				p := crashPayload(term, g, n)
				id, err := w.Append(context.Background(), message.NewMutableMessage(p, nil))
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				mu.Lock()
				// One write per line: a kill leaves at most one partial line.
				_, _ = os.Stdout.WriteString("ack " + id.Marshal() + " " + hashHex(p) + "\n")
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return 0
}

// TestCrashRecovery kills an appending child process at random moments and
// checks after each kill that every acknowledged message is there,
// byte-identical, that nothing partial or foreign is, and that sequences
// continue without a gap.
func TestCrashRecovery(t *testing.T) { testCrashRecovery(t, "") }

// TestCrashRecoveryJournal is TestCrashRecovery with every record in the
// journal and 64 KiB segments, so the kills land in journal segment
// rotations (sync of the old segment, new file, directory sync), in the
// zeros written ahead of the frames, and in the deletion of old segments.
func TestCrashRecoveryJournal(t *testing.T) { testCrashRecovery(t, "journal") }

// journalKiller kills its process with SIGKILL just before the k-th
// journal operation of its point: "create" (creating a segment after the
// first: the rotation, once the old segment was synced), "dirsync"
// (opening the journal directory to sync it: the new segment exists but
// its entry is not durable), "zeros" (the second write to a new segment:
// the zeros written ahead of its first frame). It injects no error.
type journalKiller struct {
	point string
	k     int
	mu    sync.Mutex
	n     int
	// writes counts writes to the newest segment.
	writes int
}

func (j *journalKiller) MaybeError(op errorfs.Op) error {
	inJournal := strings.Contains(op.Path, string(os.PathSeparator)+journalDirName)
	if !inJournal {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	hit := false
	switch {
	case op.Kind == errorfs.OpCreate && strings.HasSuffix(op.Path, journalSuffix):
		j.writes = 0
		hit = j.point == "create"
	case op.Kind == errorfs.OpOpenDir && strings.HasSuffix(op.Path, journalDirName):
		hit = j.point == "dirsync"
	case op.Kind == errorfs.OpFileWriteAt && strings.HasSuffix(op.Path, journalSuffix):
		j.writes++
		hit = j.point == "zeros" && j.writes == 2
	}
	if hit {
		if j.n++; j.n == j.k {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal ends the process
		}
	}
	return nil
}

func (*journalKiller) String() string { return "journal killer" }

// TestCrashDuringJournalRotation: the child, every record in the journal
// with 64 KiB segments, kills itself in the middle of a segment rotation
// (before the new segment is created, before its directory entry is
// synced) and of the preallocation (before the zeros ahead of a new
// segment's first frame are written); after each kill every acknowledged
// message is there exactly once, in order, and the next child appends on.
func TestCrashDuringJournalRotation(t *testing.T) {
	t.Setenv(envCrashAllVlog, "journal")
	dir := t.TempDir()
	acked := map[int64]string{}
	next := int64(0)
	term := 0
	for _, point := range []string{"create", "dirsync", "zeros"} {
		for _, k := range []int{2, 5, 9} {
			term++
			t.Setenv(envCrashKillAt, fmt.Sprint(point, " ", k))
			lines, minAck := runCrashChild(t, dir, term, -1)
			addAcks(t, acked, lines)
			if minAck >= 0 && minAck < next {
				t.Fatalf("%s %d: child acked sequence %d, below the %d messages already stored", point, k, minAck, next)
			}
			next = verifyCrashDir(t, dir, acked, int64(term))
			t.Logf("%s %d: killed itself after %d acks; %d messages stored", point, k, len(lines), next)
		}
	}
}

// TestCrashRecoveryAllValueLog is TestCrashRecovery with every record in
// the value log and 256 KiB segments: a segment rotation (sync of Pebble's
// log, new file, directory sync) every few appends, and zeros written
// after the records of most batches, so the kills land in both.
func TestCrashRecoveryAllValueLog(t *testing.T) { testCrashRecovery(t, "1") }

func testCrashRecovery(t *testing.T, allVlog string) {
	t.Setenv(envCrashAllVlog, allVlog)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	deadline := time.Now().Add(20 * time.Second)
	acked := map[int64]string{}
	next := int64(0) // every sequence below next was seen after a restart
	for iter := 1; iter <= 10 && time.Now().Before(deadline); iter++ {
		killAfter := 1 + rng.IntN(400)
		lines, minAck := runCrashChild(t, dir, iter, killAfter)
		addAcks(t, acked, lines)
		if minAck < next {
			t.Fatalf("iteration %d: child acked sequence %d, below the %d messages already stored", iter, minAck, next)
		}
		next = verifyCrashDir(t, dir, acked, int64(iter))
		t.Logf("iteration %d: killed after %d acks read; %d messages stored, %d acked in total", iter, killAfter, next, len(acked))
	}
}

// addAcks records the child's "ack <id> <sha256>" lines in acked.
func addAcks(t *testing.T, acked map[int64]string, lines []string) {
	t.Helper()
	for _, l := range lines {
		f := strings.Fields(l)
		id, err := strconv.ParseInt(f[1], 10, 64)
		if len(f) != 3 || f[0] != "ack" || err != nil {
			t.Fatalf("bad child line %q", l)
		}
		acked[id] = f[2]
	}
}

// runCrashChild starts the child, reads killAfter acks, kills it with
// SIGKILL and returns every complete ack line and the lowest acked ID. With
// killAfter < 0 the child must kill itself.
func runCrashChild(t *testing.T, dir string, term, killAfter int) (lines []string, minAck int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashChild+"=1", envCrashDir+"="+dir, envCrashTerm+"="+strconv.Itoa(term))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	minAck = -1
	killed := false
	for {
		l, err := r.ReadString('\n')
		if err == io.EOF {
			// A line cut by the kill has no newline: it was never complete.
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.TrimSuffix(l, "\n"))
		if id, err := strconv.ParseInt(strings.Fields(l)[1], 10, 64); err == nil && (minAck < 0 || id < minAck) {
			minAck = id
		}
		if len(lines) == 1 && term == 1 {
			checkSecondProcessRefused(t, dir)
		}
		if len(lines) == killAfter && !killed {
			killed = true
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if killAfter < 0 {
		killed = true
	}
	if !killed || !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v before the kill (stderr: %s)", err, stderr.String())
	}
	return lines, minAck
}

// checkSecondProcessRefused opens the directory the child holds.
func checkSecondProcessRefused(t *testing.T, dir string) {
	t.Helper()
	o, err := NewBuilder(WithPath(dir)).Build()
	if err == nil {
		o.Close()
		t.Fatal("a second process opened a directory in use")
	}
	if !errors.Is(err, ErrLocked) || !errors.Is(err, walimpls.ErrUnavailable) || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second process: %v, want ErrLocked (an ErrUnavailable) saying another process holds it", err)
	}
}

// verifyCrashDir reopens dir and checks the channel; it returns the number
// of stored messages.
func verifyCrashDir(t *testing.T, dir string, acked map[int64]string, term int64) int64 {
	t.Helper()
	o := newOpener(t, dir)
	defer o.Close()
	w := openWAL(t, o, crashChannel, term, walimpls.ReadWrite)
	// Sequences continue after the last stored one.
	probe, err := w.Append(context.Background(), message.NewMutableMessage(crashPayload(uint64(term), 99, 0), nil))
	if err != nil {
		t.Fatal(err)
	}
	total := probe.(helper.Int64ID).Value() + 1
	for id := range acked {
		if id >= total {
			t.Fatalf("acked sequence %d missing: the channel ends at %d", id, total)
		}
	}
	s, err := w.Read(context.Background(), walimpls.ReadOption{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	timeout := time.After(30 * time.Second)
	for want := int64(0); want < total; want++ {
		var m message.ImmutableMessage
		select {
		case m = <-s.Chan():
		case <-timeout:
			t.Fatalf("scan stalled at %d of %d", want, total)
		}
		if m == nil {
			t.Fatalf("scanner ended at %d of %d: %v", want, total, s.Error())
		}
		if got := m.MessageID().(helper.Int64ID).Value(); got != want {
			t.Fatalf("sequence %d where %d was due: a gap", got, want)
		}
		if err := checkCrashPayload(m.Payload()); err != nil {
			t.Fatalf("sequence %d: %v", want, err)
		}
		if h, ok := acked[want]; ok && h != hashHex(m.Payload()) {
			t.Fatalf("acked sequence %d came back with other bytes", want)
		}
	}
	return total
}
