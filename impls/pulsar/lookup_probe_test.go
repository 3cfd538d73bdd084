package pulsar_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqwal/mqwal/impls/pulsar"
	"github.com/mqwal/mqwal/walimpls"
)

// A URL where nothing listens fails Open at once, naming the address and
// "connection refused", instead of after the operation timeout with
// "context deadline exceeded".
func TestUnreachableURLFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	const connTimeout = 2 * time.Second
	for _, mode := range []walimpls.AccessMode{walimpls.ReadWrite, walimpls.ReadOnly} {
		o, err := pulsar.NewBuilder(pulsar.WithURL("pulsar://"+addr), pulsar.WithConnectionTimeout(connTimeout), pulsar.WithOperationTimeout(30*time.Second)).Build()
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "x", Term: 1, AccessMode: mode}})
		took := time.Since(start)
		o.Close()
		if !errors.Is(err, walimpls.ErrUnavailable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("%v: %v, want ErrUnavailable naming %s and connection refused", mode, err, addr)
		}
		if took > connTimeout {
			t.Errorf("%v: failed after %v, more than the connection timeout %v", mode, took, connTimeout)
		}
	}
}

// A broker that accepts connections but never answers fails Open after the
// operation timeout with a retryable ErrUnavailable (the client reports a
// bare "context deadline exceeded").
func TestSilentBrokerIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		_ = l.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
	}()
	o, err := pulsar.NewBuilder(pulsar.WithURL("pulsar://"+l.Addr().String()), pulsar.WithOperationTimeout(time.Second), pulsar.WithConnectionTimeout(time.Second)).Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	start := time.Now()
	_, err = o.Open(context.Background(), &walimpls.OpenOption{Channel: walimpls.Channel{Name: "x", Term: 1, AccessMode: walimpls.ReadWrite}})
	t.Logf("after %v: %v", time.Since(start), err)
	if !errors.Is(err, walimpls.ErrUnavailable) || !walimpls.IsRetryable(err) {
		t.Fatalf("Open against a silent broker: %v, want a retryable ErrUnavailable", err)
	}
}
