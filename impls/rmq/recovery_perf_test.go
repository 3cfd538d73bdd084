package rmq

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/walimpls"
)

// envRecoveryChild: the child of TestPerfRecovery, "<dir> <threshold>".
const envRecoveryChild = "MQWAL_RMQ_RECOVERY_CHILD"

// recoveryBytes is how much TestPerfRecovery's child appends.
const recoveryBytes = 1 << 30

// recoveryChild appends recoveryBytes of 1 KiB messages to one channel
// (SyncNone, for speed: a SIGKILL leaves the page cache, so everything
// written reaches the next open), prints "filled" and waits to be killed.
func recoveryChild() int {
	var dir string
	var threshold int
	if _, err := fmt.Sscan(os.Getenv(envRecoveryChild), &dir, &threshold); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	o, err := NewBuilder(WithPath(dir), WithSyncMode(SyncNone), WithValueLogThreshold(threshold)).Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	w, err := o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "ch", Term: 1}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ps := payloads(64, benchPayload)
	const n = recoveryBytes / benchPayload
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < n; i += 4 {
				if _, err := w.Append(context.Background(), message.NewMutableMessage(ps[i%len(ps)], nil)); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
			}
		})
	}
	wg.Wait()
	fmt.Println("filled")
	select {}
}

// TestPerfRecovery measures the open after a SIGKILL of a process that
// appended 1 GiB of 1 KiB messages: Build, Open and the first message of
// a scan from the start.
//
//	MQWAL_RMQ_PERF=1 go test -run TestPerfRecovery -v -timeout 30m ./impls/rmq
func TestPerfRecovery(t *testing.T) {
	if os.Getenv("MQWAL_RMQ_PERF") == "" {
		t.Skip("set MQWAL_RMQ_PERF=1")
	}
	for _, threshold := range []int{1, 0} {
		t.Run(fmt.Sprintf("threshold=%d", threshold), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envRecoveryChild+"="+dir+" "+strconv.Itoa(threshold))
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			fill := time.Now()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if l, err := bufio.NewReader(out).ReadString('\n'); err != nil || l != "filled\n" {
				t.Fatalf("child: %q %v", l, err)
			}
			filled := time.Since(fill)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			dropCache(t, dir)
			start := time.Now()
			o := newOpener(t, dir)
			built := time.Since(start)
			w := openWAL(t, o, "ch", 2, walimpls.ReadOnly)
			opened := time.Since(start)
			s, err := w.Read(context.Background(), walimpls.ReadOption{})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := <-s.Chan(); !ok {
				t.Fatal(s.Error())
			}
			first := time.Since(start)
			s.Close()
			o.Close()
			t.Logf("filled %d MiB in %v; after SIGKILL, cold page cache: Build %v, Open %v, first message %v; directory %.0f MiB",
				recoveryBytes>>20, filled.Round(time.Millisecond), built.Round(time.Millisecond), opened.Round(time.Millisecond), first.Round(time.Millisecond), mib(dirBytes(t, dir)))
		})
	}
}
