package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
	"github.com/testcontainers/testcontainers-go"

	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// containersEnv selects the container-mode tests. Unset: every one, when a
// Docker engine answers, else each skips. "none": none. A comma-separated
// list of kafka, redpanda, pulsar: exactly those, and then a missing Docker
// engine fails them: someone asked for those brokers (a CI job does).
const containersEnv = "MQWAL_IT_CONTAINERS"

// containerKinds are the names containersEnv accepts.
var containerKinds = []string{"kafka", "redpanda", "pulsar"}

// parseContainers reads a containersEnv value: the set of selected kinds. A
// name it does not know is an error, so a typo cannot quietly select nothing.
func parseContainers(v string) (map[string]bool, error) {
	sel := map[string]bool{}
	if strings.TrimSpace(v) == "none" {
		return sel, nil
	}
	for name := range strings.SplitSeq(v, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(containerKinds, name) {
			return nil, fmt.Errorf("%s=%q: unknown container %q (known: none, or a list of %s)", containersEnv, v, name, strings.Join(containerKinds, ", "))
		}
		sel[name] = true
	}
	return sel, nil
}

// requireContainer skips or fails t, per containersEnv, unless kind is
// selected and a Docker engine answers.
func requireContainer(t *testing.T, kind string) {
	t.Helper()
	v, set := os.LookupEnv(containersEnv)
	if !set || v == "" {
		if err := dockerHealth(); err != nil {
			t.Skipf("no Docker engine answers, container mode skipped (set %s=%s to make that a failure): %v", containersEnv, kind, err)
		}
		return
	}
	sel, err := parseContainers(v)
	if err != nil {
		t.Fatal(err)
	}
	if !sel[kind] {
		t.Skipf("%s=%s does not select %s", containersEnv, v, kind)
	}
	if err := dockerHealth(); err != nil {
		t.Fatalf("%s=%s selects %s, but no Docker engine answers: %v", containersEnv, v, kind, err)
	}
}

// dockerHealth reports whether a Docker engine answers. testcontainers
// panics instead of returning an error in some setups (no rootless socket).
func dockerHealth() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("testcontainers: %v", p)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := testcontainers.ProviderDocker.GetProvider()
	if err != nil {
		return err
	}
	return p.Health(ctx)
}

// dockerHost is the host on which the engine publishes container ports.
func dockerHost(ctx context.Context, t *testing.T) string {
	t.Helper()
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	host, err := p.DaemonHost(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return host
}

// freePort returns a TCP port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// withHostPort publishes containerPort ("9092/tcp") on hostPort. Docker
// picks a new random host port each time a container starts again, which
// would leave a restarted broker where no client looks for it (and a
// broker advertising the old port); a fixed one survives Stop and Start.
func withHostPort(containerPort string, hostPort int) testcontainers.CustomizeRequestOption {
	return testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
		if hc.PortBindings == nil {
			hc.PortBindings = nat.PortMap{}
		}
		hc.PortBindings[nat.Port(containerPort)] = []nat.PortBinding{{HostPort: strconv.Itoa(hostPort)}}
	})
}

// restartFault stops c the way `docker stop` does (SIGTERM, SIGKILL after
// 10 s) and starts it again on the data it had, then waits until ready says
// the broker serves again. Clients keep their addresses: see withHostPort.
func restartFault(c testcontainers.Container, ready func(context.Context) error) walimplstest.Fault {
	return walimplstest.Fault{Name: "ContainerRestart", Inject: func(ctx context.Context) error {
		grace := 10 * time.Second
		if err := c.Stop(ctx, &grace); err != nil {
			return fmt.Errorf("stop container: %w", err)
		}
		if err := c.Start(ctx); err != nil {
			return fmt.Errorf("start container: %w", err)
		}
		return ready(ctx)
	}}
}

// poll calls check until it returns nil, ctx ends, or limit passes; the
// error names the last failure.
func poll(ctx context.Context, limit time.Duration, what string, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not within %s: %w", what, limit, errors.Join(err, ctx.Err()))
		case <-tick.C:
		}
	}
}

// dialable is a readiness check: addr accepts TCP connections.
func dialable(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}
