package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// The dev broker's control endpoint: a small HTTP API on loopback through
// which `walctl verify --faults` disturbs the broker while it runs.
//
//	GET  /faults         {"broker":"kafka","faults":["drop-connections",...]}
//	POST /faults/{name}  applies one fault: 200 {"fault":..,"detail":..,"took":..}
//
// It uses only the public fault API of kafkatest and pulsartest.

// controlLinePrefix starts the config-file comment that names the endpoint,
// so verify finds it without a flag.
const controlLinePrefix = "# walctl dev-broker control: "

// brokerFault is one fault a dev broker offers: apply applies it and says
// what it did.
type brokerFault struct {
	name  string
	apply func(ctx context.Context) (detail string, err error)
}

type faultList struct {
	Broker string   `json:"broker"`
	Faults []string `json:"faults"`
}

type faultResult struct {
	Fault  string `json:"fault"`
	Detail string `json:"detail,omitempty"`
	Took   string `json:"took"`
}

// serveControl serves faults on addr (loopback only) until ctx ends or the
// returned stop is called; it returns the endpoint's base URL.
func serveControl(ctx context.Context, addr, broker string, faults []brokerFault) (string, func(), error) {
	host, _, err := splitAddr("--control", addr)
	if err != nil {
		return "", nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", nil, usagef("--control %q: the control endpoint listens on loopback only (127.0.0.1)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("control endpoint on %s: %w", addr, err)
	}
	names := make([]string, 0, len(faults))
	for _, f := range faults {
		names = append(names, f.name)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, faultList{Broker: broker, Faults: names})
	})
	mux.HandleFunc("POST /faults/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		i := slices.IndexFunc(faults, func(f brokerFault) bool { return f.name == name })
		if i < 0 {
			http.Error(w, fmt.Sprintf("the %s dev broker has no fault %q (it has: %s)", broker, name, strings.Join(names, ", ")), http.StatusNotFound)
			return
		}
		fctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		start := time.Now()
		detail, err := faults[i].apply(fctx)
		if err != nil {
			http.Error(w, fmt.Sprintf("fault %s: %v", name, err), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, faultResult{Fault: name, Detail: detail, Took: time.Since(start).Round(time.Millisecond).String()})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
		<-done
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// controlClient talks to a dev broker's control endpoint.
type controlClient struct {
	base string
	hc   *http.Client
}

func newControlClient(base string) *controlClient {
	return &controlClient{base: strings.TrimRight(base, "/"), hc: &http.Client{Timeout: 40 * time.Second}}
}

// list returns the broker kind and the faults it offers.
func (c *controlClient) list(ctx context.Context) (faultList, error) {
	var l faultList
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/faults", nil)
	if err != nil {
		return l, err
	}
	err = c.do(req, &l)
	return l, err
}

// inject applies fault name and returns what the broker said it did.
func (c *controlClient) inject(ctx context.Context, name string) (faultResult, error) {
	var res faultResult
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/faults/"+name, nil)
	if err != nil {
		return res, err
	}
	err = c.do(req, &res)
	return res, err
}

func (c *controlClient) do(req *http.Request, v any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("dev broker control %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("dev broker control %s: %w", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("dev broker control %s: %s", req.URL.Path, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, v)
}

// controlFromConfig finds the control endpoint dev-broker wrote into the
// config file at path, "" if there is none.
func controlFromConfig(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close() //nolint:errcheck // read only: nothing left to report
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), controlLinePrefix); ok {
			return strings.TrimSpace(rest), nil
		}
	}
	return "", sc.Err()
}

// writeFileAtomic writes data to path through a temporary file and a
// rename, so a reader sees nothing or all of it.
func writeFileAtomic(path string, data []byte) error {
	dir, base := ".", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		dir, base = path[:i+1], path[i+1:]
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
