package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a walctl subprocess whose stdout the test reads line by line.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *lockedBuffer
	done   chan struct{}
	err    error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p, _ := startPiped(t, false, args...)
	return p
}

// startPiped starts walctl; with stdin, the test writes its standard input
// through the returned pipe.
func startPiped(t *testing.T, stdin bool, args ...string) (*proc, io.WriteCloser) {
	t.Helper()
	p := &proc{cmd: exec.Command(walctlBin, args...), lines: make(chan string, 1024), stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive a crashed test
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var in io.WriteCloser
	if stdin {
		if in, err = p.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = p.cmd.Wait()
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p, in
}

// next returns the next stdout line, failing the test after d.
func (p *proc) next(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			<-p.done
			t.Fatalf("walctl %v exited (%v) before printing a line; stderr: %s", p.cmd.Args[1:], p.err, p.stderr)
		}
		return l
	case <-time.After(d):
		t.Fatalf("walctl %v printed nothing for %s; stderr: %s", p.cmd.Args[1:], d, p.stderr)
	}
	return ""
}

// interrupt sends SIGINT and expects a clean exit with status 0.
func (p *proc) interrupt(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for stop := false; !stop; {
		select {
		case _, ok := <-p.lines: // drain, so the reader reaches Wait
			stop = !ok
		case <-deadline:
			_ = p.cmd.Process.Signal(syscall.SIGQUIT) // its goroutine dump goes to stderr
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
			t.Fatalf("walctl %v did not stop within 30s of SIGINT; stderr:\n%s", p.cmd.Args[1:], p.stderr)
		}
	}
	<-p.done
	if p.err != nil {
		t.Fatalf("walctl %v after SIGINT: %v; stderr: %s", p.cmd.Args[1:], p.err, p.stderr)
	}
}

func TestBinaryAppendScanRMQ(t *testing.T) {
	t.Parallel()
	cfg := rmqConfig(t, "sync")
	r := runBinary(t, "x\ny\n", "--config", cfg, "append", "-c", "cli")
	if r.code != 0 || len(lines(r.stdout)) != 2 {
		t.Fatalf("append: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	ids := lines(r.stdout)
	r = runBinary(t, "", "--config", cfg, "scan", "-c", "cli")
	if r.code != 0 || r.stdout != ids[0]+"\t-\tx\n"+ids[1]+"\t-\ty\n" {
		t.Fatalf("scan: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestBinaryUnknownBackend(t *testing.T) {
	t.Parallel()
	r := runBinary(t, "", "--backend", "nosuch", "append", "-c", "x", "a")
	want := regexp.MustCompile(`^walctl: config: --backend: unknown backend "nosuch" \(registered: [a-z, ]*rmq[a-z, ]*\)\n$`)
	if r.code != 1 || !want.MatchString(r.stderr) || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runBinaryEnv(t, []string{"MQWAL_BACKEND=nosuch"}, "", "scan", "-c", "x")
	if r.code != 1 || !strings.HasPrefix(r.stderr, `walctl: config: MQWAL_BACKEND (backend): unknown backend "nosuch"`) {
		t.Fatalf("from env: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestBinaryConformanceRMQ(t *testing.T) {
	t.Parallel()
	r := runBinary(t, "", "--config", rmqConfig(t, "sync"), "conformance")
	if r.code != 0 || !regexp.MustCompile(`(?m)^\d+ passed, 0 failed, [01] skipped`).MatchString(r.stdout) {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	// Only Stat may be skipped, until rmq implements walimpls.StatReader.
	for _, l := range regexp.MustCompile(`(?m)^SKIP  \S+`).FindAllString(r.stdout, -1) {
		if l != "SKIP  Stat" {
			t.Errorf("rmq skips a case other than Stat: %s", l)
		}
	}
	for _, c := range []string{"Persistence", "Fencing", "Truncate", "ConcurrentAppenders"} {
		if !regexp.MustCompile(`(?m)^PASS  ` + c + ` `).MatchString(r.stdout) {
			t.Errorf("no PASS row for %s:\n%s", c, r.stdout)
		}
	}
}

// devBroker starts `walctl dev-broker kind` on a free port and returns the
// process and the config file holding the snippet it printed.
func devBroker(t *testing.T, kind string, extra ...string) (*proc, string, string) {
	t.Helper()
	p := start(t, append([]string{"dev-broker", kind, "--addr", "127.0.0.1:0"}, extra...)...)
	var snippet []string
	addr := ""
	re := regexp.MustCompile(`^  (?:brokers: \[(.+)\]|url: pulsar://(.+))$`)
	for addr == "" {
		l := p.next(t, 30*time.Second)
		snippet = append(snippet, l)
		if m := re.FindStringSubmatch(l); m != nil {
			addr, _, _ = strings.Cut(m[1]+m[2], ",")
		}
	}
	if kind == "pulsar" {
		snippet = append(snippet, p.next(t, 30*time.Second)) // admin_url
	}
	cfg := filepath.Join(t.TempDir(), kind+".yaml")
	if err := os.WriteFile(cfg, []byte(strings.Join(snippet, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dev broker %s does not accept connections on %s: %v", kind, addr, err)
	}
	conn.Close()
	return p, cfg, addr
}

func TestDevBrokerKafka(t *testing.T) {
	t.Parallel()
	broker, cfg, addr := devBroker(t, "kafka")

	// Append through the printed config, as a user would.
	r := runBinary(t, "", "--config", cfg, "append", "-c", "events", "-p", "k=v", "one", "two", "three")
	if r.code != 0 || len(lines(r.stdout)) != 3 {
		t.Fatalf("append: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	// A third-party client sees them as plain records with headers.
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat is not on PATH (CI installs it: apt-get install kcat)")
		}
		t.Log("kcat not on PATH: skipping the third-party read")
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, kcat, "-b", addr, "-C", "-t", "events", "-o", "beginning", "-e", "-q", "-f", "%h\t%s\n").CombinedOutput()
		if err != nil {
			t.Fatalf("kcat: %v\n%s", err, out)
		}
		var got []string
		for _, l := range lines(string(out)) {
			if strings.Contains(l, "k=v") {
				got = append(got, l[strings.LastIndex(l, "\t")+1:])
			}
		}
		if strings.Join(got, ",") != "one,two,three" {
			t.Fatalf("kcat read %q from:\n%s", got, out)
		}
	}

	// Without --follow, scan ends at the newest message at once, not after
	// --idle.
	begin := time.Now()
	r = runBinary(t, "", "--config", cfg, "scan", "-c", "events", "--idle", "1m")
	if took := time.Since(begin); r.code != 0 || len(lines(r.stdout)) != 3 || took > 20*time.Second {
		t.Fatalf("scan: exit %d in %s, stdout %q stderr %q", r.code, took, r.stdout, r.stderr)
	}

	// scan --follow prints what arrives and ends cleanly on Ctrl-C.
	follow := start(t, "--config", cfg, "scan", "-c", "events", "--follow")
	for _, want := range []string{"one", "two", "three"} {
		if l := follow.next(t, 20*time.Second); !strings.HasSuffix(l, "\tk=v\t"+want) {
			t.Fatalf("follow printed %q, want ...%s", l, want)
		}
	}
	if r := runBinary(t, "", "--config", cfg, "append", "-c", "events", "four"); r.code != 0 {
		t.Fatalf("append four: %s", r.stderr)
	}
	if l := follow.next(t, 20*time.Second); !strings.HasSuffix(l, "\t-\tfour") {
		t.Fatalf("follow printed %q, want ...four", l)
	}
	follow.interrupt(t)

	r = runBinary(t, "", "--config", cfg, "conformance")
	if r.code != 0 || !regexp.MustCompile(`(?m)^\d+ passed, 0 failed`).MatchString(r.stdout) {
		t.Fatalf("conformance on the kafka dev broker: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	broker.interrupt(t)
	if !strings.Contains(broker.stderr.String(), "stopping kafka dev broker") {
		t.Fatalf("dev-broker stderr: %q", broker.stderr)
	}
}

func TestDevBrokerPulsar(t *testing.T) {
	t.Parallel()
	broker, cfg, _ := devBroker(t, "pulsar")
	if data, _ := os.ReadFile(cfg); !strings.Contains(string(data), ", data in memory until it stops;") {
		t.Errorf("the pulsar dev broker's config does not say where its data is:\n%s", data)
	}
	r := runBinary(t, "", "--config", cfg, "append", "-c", "events", "-p", "k=v", "one", "two")
	if strings.Contains(r.stderr, "no admin URL") {
		t.Errorf("the dev broker's config leaves out its admin URL: %s", r.stderr)
	}
	ids := lines(r.stdout)
	if r.code != 0 || len(ids) != 2 || !regexp.MustCompile(`^\d+:\d+:\d+$`).MatchString(ids[0]) {
		t.Fatalf("append: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, "", "--config", cfg, "scan", "-c", "events", "--after", ids[0])
	if r.code != 0 || r.stdout != ids[1]+"\tk=v\ttwo\n" {
		t.Fatalf("scan --after: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// Pulsar cannot truncate physically: truncate says what it did, and
	// the message stays readable until the broker's retention deletes it.
	r = runBinary(t, "", "--config", cfg, "truncate", "-c", "events", ids[0])
	if r.code != 0 || r.stdout != "marked events up to and including "+ids[0]+" for deletion: pulsar deletes it by its own retention; until then reads still see it\n" {
		t.Fatalf("truncate: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, "", "--config", cfg, "scan", "-c", "events", "--idle", "1m")
	if r.code != 0 || !strings.HasPrefix(r.stdout, ids[0]+"\tk=v\tone\n"+ids[1]+"\tk=v\ttwo\n") {
		t.Fatalf("scan after truncate: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, "", "--config", cfg, "conformance")
	if r.code != 0 || !regexp.MustCompile(`(?m)^\d+ passed, 0 failed`).MatchString(r.stdout) {
		t.Fatalf("conformance on the pulsar dev broker: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	broker.interrupt(t)
	if !strings.Contains(broker.stderr.String(), "stopping pulsar dev broker") {
		t.Fatalf("dev-broker stderr: %q", broker.stderr)
	}
}

func TestDevBrokerBadAddr(t *testing.T) {
	t.Parallel()
	r := runBinary(t, "", "dev-broker", "kafka", "--addr", "10.1.2.3:9092")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "walctl: --addr \"10.1.2.3:9092\": the kafka dev broker listens on loopback only") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	// A port in use is a clear error, not a hang.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r = runBinary(t, "", "dev-broker", "pulsar", "--addr", l.Addr().String())
	if r.code != 1 || !strings.HasPrefix(r.stderr, "walctl: dev-broker pulsar on "+l.Addr().String()) || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("port in use: exit %d stderr %q", r.code, r.stderr)
	}
}

// TestFollowInProcess tails an rmq channel (one process owns its directory)
// while appends arrive, and ends on cancellation with status 0.
func TestFollowInProcess(t *testing.T) {
	t.Parallel()
	cfg := rmqConfig(t, "none")
	mustRun(t, "", "--config", cfg, "append", "-c", "tail", "before")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	var errb lockedBuffer
	go func() {
		code <- run(ctx, []string{"--config", cfg, "scan", "-c", "tail", "--follow"}, strings.NewReader(""), pw, &errb)
		pw.Close()
	}()
	got := make(chan string, 16)
	go func() {
		defer close(got)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			got <- sc.Text()
		}
	}()
	read := func() string {
		select {
		case l, ok := <-got:
			if !ok {
				t.Fatalf("follow ended early: %s", errb.String())
			}
			return l
		case <-time.After(30 * time.Second):
			t.Fatalf("follow printed nothing for 30s: %s", errb.String())
		}
		return ""
	}
	if l := read(); !strings.HasSuffix(l, "\tbefore") {
		t.Fatalf("got %q", l)
	}
	for i := range 3 {
		mustRun(t, "", "--config", cfg, "append", "-c", "tail", fmt.Sprint("after", i))
		if l := read(); !strings.HasSuffix(l, fmt.Sprint("\tafter", i)) {
			t.Fatalf("got %q", l)
		}
	}
	cancel()
	go func() {
		for range got { // drain until run returns and closes the pipe
		}
	}()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("follow exit %d after cancel: %s", c, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("scan --follow did not end within 30s of cancellation")
	}
}
