package config_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/config"
	"github.com/mqwal/mqwal/config/configtest"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/impls/rmq"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
)

// This test binary links memory and rmq only: kafka and pulsar are the
// built-in backends that are not compiled in.

// env returns a lookup over vars only, so tests never see the process's.
var env = configtest.Env

var writeFile = configtest.WriteFile

// warnings collects Load's warnings.
type warnings []string

func (w *warnings) opt() config.LoadOption {
	return config.WithWarnings(func(e *config.Error) { *w = append(*w, e.Error()) })
}

func rmqSection(c *config.Config) *rmq.Section { return c.Section("rmq").(*rmq.Section) }

func TestNoConfigIsRMQInDefaultDir(t *testing.T) {
	c, err := config.Load("", env())
	if err != nil {
		t.Fatal(err)
	}
	if r := rmqSection(c); c.Backend != "rmq" || r.Path != "./mqwal-data" || r.Sync != "sync" {
		t.Fatalf("default = %q %q %q, want rmq ./mqwal-data sync", c.Backend, r.Path, r.Sync)
	}
	b, err := c.DriverBuilder()
	if err != nil {
		t.Fatal(err)
	}
	rb, ok := b.(*rmq.Builder)
	if !ok {
		t.Fatalf("driver builder is %T, want *rmq.Builder", b)
	}
	if rb.Path() != "./mqwal-data" {
		t.Fatalf("rmq path = %q", rb.Path())
	}
	ob, err := c.OpenerBuilder()
	if err != nil || ob.Name() != "rmq" {
		t.Fatalf("OpenerBuilder = %v, %v", ob, err)
	}
	if len(c.Warnings()) != 0 {
		t.Fatalf("warnings: %v", c.Warnings())
	}
}

// An empty file loads as the defaults, with a warning: it is almost always a
// config another process has not written yet.
func TestEmptyFileIsDefaultWithWarning(t *testing.T) {
	for _, body := range []string{"", "# only a comment\n", "---\n", "\n\n"} {
		var w warnings
		p := writeFile(t, body)
		c, err := config.Load(p, env(), w.opt())
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if c.Backend != "rmq" || rmqSection(c).Path != rmq.DefaultPath {
			t.Fatalf("%q: got %q %q", body, c.Backend, rmqSection(c).Path)
		}
		if len(w) != 1 || !strings.HasPrefix(w[0], "config: "+p+": the file is empty, so the defaults apply (backend rmq)") ||
			!strings.Contains(w[0], "walctl dev-broker --config-out writes it whole") {
			t.Fatalf("%q: warnings %q", body, w)
		}
	}
}

// A file that configures a backend but does not select it runs the default
// backend: say so, unless the environment or --backend selects one.
func TestFileThatNamesNoBackendWarns(t *testing.T) {
	p := writeFile(t, "memory:\n  max_message_size: 10\n")
	var w warnings
	if _, err := config.Load(p, env(), w.opt()); err != nil {
		t.Fatal(err)
	}
	want := "config: backend: " + p + " configures memory but names no backend; add backend: memory (using rmq, the default)"
	if len(w) != 1 || w[0] != want {
		t.Fatalf("warnings %q, want %q", w, want)
	}
	for _, opt := range []config.LoadOption{env("MQWAL_BACKEND", "memory"), config.WithBackend("rmq")} {
		w = nil
		if _, err := config.Load(p, env(), opt, w.opt()); err != nil || len(w) != 0 {
			t.Fatalf("backend selected elsewhere: %v, warnings %q", err, w)
		}
	}
	w = nil
	if _, err := config.Load(writeFile(t, "rmq:\n  sync: group\n"), env(), w.opt()); err != nil || len(w) != 0 {
		t.Fatalf("a file configuring the default backend: %v, warnings %q", err, w)
	}
}

func TestFileValues(t *testing.T) {
	p := writeFile(t, `
backend: memory
adaptor:
  write_ahead_cache: 1048576
  max_in_flight_bytes: 0
  close_timeout: 2s
  max_message_size: 1000
log:
  level: info
  format: json
rmq:
  path: /var/lib/wal
  sync: group
  group_commit_window: 250us
  max_message_size: 1024
memory:
  max_message_size: 2048
`)
	c, err := config.Load(p, env())
	if err != nil {
		t.Fatal(err)
	}
	r := rmqSection(c)
	if c.Backend != "memory" || r.Path != "/var/lib/wal" || r.Sync != "group" ||
		r.GroupCommitWindow != 250*time.Microsecond || r.MaxMessageSize != 1024 || c.Section("memory").(*memory.Section).MaxMessageSize != 2048 {
		t.Fatalf("rmq/memory: %+v %+v", r, c.Section("memory"))
	}
	a := c.Adaptor
	if a.WriteAheadCache == nil || *a.WriteAheadCache != 1<<20 || a.MaxInFlightBytes != 0 || a.CloseTimeout != 2*time.Second || a.MaxMessageSize != 1000 {
		t.Fatalf("adaptor: %+v", a)
	}
	if c.Log != (config.Log{Level: "info", Format: "json"}) {
		t.Fatalf("log: %+v", c.Log)
	}
	if got := c.Source("rmq.group_commit_window"); got != p+":14" {
		t.Fatalf("Source(rmq.group_commit_window) = %q, want %s:14", got, p)
	}
	b, err := c.DriverBuilder()
	if err != nil || b.Name() != "memory" {
		t.Fatalf("DriverBuilder = %v, %v", b, err)
	}
}

// The adaptor settings reach the opener: here the message size limit,
// which appends meet.
func TestAdaptorSettingsApply(t *testing.T) {
	c, err := config.Parse("a.yaml", []byte("backend: memory\nadaptor:\n  max_message_size: 100\n  write_ahead_cache: 0\n"), env())
	if err != nil {
		t.Fatal(err)
	}
	ob, err := c.OpenerBuilder()
	if err != nil {
		t.Fatal(err)
	}
	appendSizes(t, ob, 100)
	// The program's options come after the file's and win.
	ob, err = c.OpenerBuilder(adaptor.WithMaxMessageSize(50))
	if err != nil {
		t.Fatal(err)
	}
	appendSizes(t, ob, 50)
}

// appendSizes checks that ob's openers accept a payload of limit bytes and
// refuse one more.
func appendSizes(t *testing.T, ob *adaptor.OpenerBuilder, limit int) {
	t.Helper()
	o, err := ob.Build()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx := context.Background()
	w, err := o.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: "config-adaptor-limit", Term: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(ctx, message.NewMutableMessage(make([]byte, limit), nil)); err != nil {
		t.Fatalf("append of %d bytes: %v", limit, err)
	}
	if _, err := w.Append(ctx, message.NewMutableMessage(make([]byte, limit+1), nil)); !errors.Is(err, wal.ErrMessageTooLarge) {
		t.Fatalf("append of %d bytes: %v, want ErrMessageTooLarge", limit+1, err)
	}
}

// The log section makes a logger on stderr; a program's logger wins over it.
func TestLogger(t *testing.T) {
	c, err := config.Load("", env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Logger() != nil {
		t.Fatal("log.level off by default, but Logger is not nil")
	}
	c, err = config.Load("", env("MQWAL_LOG_LEVEL", "warn", "MQWAL_LOG_FORMAT", "json"))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Logger()
	if l == nil || l.Enabled(context.Background(), slog.LevelInfo) || !l.Enabled(context.Background(), slog.LevelWarn) {
		t.Fatalf("log.level warn: %v", l)
	}
	if _, ok := l.Handler().(*slog.JSONHandler); !ok {
		t.Fatalf("log.format json: handler %T", l.Handler())
	}
	mine := slog.New(slog.DiscardHandler)
	c, err = config.Load("", env("MQWAL_LOG_LEVEL", "debug"), config.WithLogger(mine))
	if err != nil || c.Logger() != mine {
		t.Fatalf("WithLogger: %v %v", c.Logger(), err)
	}
}

func TestEnvPrecedence(t *testing.T) {
	p := writeFile(t, "backend: memory\nrmq:\n  path: /from/file\n  sync: group\nadaptor:\n  close_timeout: 1s\n")
	c, err := config.Load(p, env(
		"MQWAL_BACKEND", "rmq",
		"MQWAL_RMQ_PATH", "/from/env",
		"MQWAL_RMQ_SYNC", "", // empty counts as unset: the file's value stays
		"MQWAL_RMQ_GROUP_COMMIT_WINDOW", "750us",
		"MQWAL_ADAPTOR_CLOSE_TIMEOUT", "3s",
		"MQWAL_ADAPTOR_WRITE_AHEAD_CACHE", "0",
		"MQWAL_MEMORY_MAX_MESSAGE_SIZE", "77",
	))
	if err != nil {
		t.Fatal(err)
	}
	r := rmqSection(c)
	if c.Backend != "rmq" || r.Path != "/from/env" || r.Sync != "group" || r.GroupCommitWindow != 750*time.Microsecond {
		t.Fatalf("got backend %q rmq %+v", c.Backend, r)
	}
	if c.Adaptor.CloseTimeout != 3*time.Second || c.Adaptor.WriteAheadCache == nil || *c.Adaptor.WriteAheadCache != 0 ||
		c.Section("memory").(*memory.Section).MaxMessageSize != 77 {
		t.Fatalf("adaptor %+v memory %+v", c.Adaptor, c.Section("memory"))
	}
	if c.Source("rmq.path") != "MQWAL_RMQ_PATH" || c.Source("rmq.sync") != p+":4" {
		t.Fatalf("sources: %q %q", c.Source("rmq.path"), c.Source("rmq.sync"))
	}
	// --backend beats the environment.
	c, err = config.Load(p, env("MQWAL_BACKEND", "rmq"), config.WithBackend("memory"))
	if err != nil || c.Backend != "memory" {
		t.Fatalf("WithBackend: %v %v", c, err)
	}
}

func TestProcessEnvironmentIsRead(t *testing.T) {
	t.Setenv("MQWAL_BACKEND", "memory")
	t.Setenv("MQWAL_RMQ_PATH", "/x")
	c, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend != "memory" || rmqSection(c).Path != "/x" {
		t.Fatalf("got %q %q", c.Backend, rmqSection(c).Path)
	}
}

// A misspelt MQWAL_* variable is not silently ignored: a warning names the
// nearest known variable. One nobody could have meant says so too.
func TestUnknownVariableWarns(t *testing.T) {
	var w warnings
	c, err := config.Load("", env("MQWAL_RMQ_PATHH", "/typo", "MQWAL_RMQ_SYNC", "none", "MQWAL_ZZZZZZZZZZZZZZZZZZZ", "1", "MQWAL_RMQ_EMPTY", "", "OTHER", "x"), w.opt())
	if err != nil {
		t.Fatal(err)
	}
	if rmqSection(c).Path != rmq.DefaultPath || rmqSection(c).Sync != "none" {
		t.Fatalf("rmq %+v", rmqSection(c))
	}
	want := []string{
		"config: MQWAL_RMQ_PATHH: unknown variable, ignored; did you mean MQWAL_RMQ_PATH?",
		"config: MQWAL_ZZZZZZZZZZZZZZZZZZZ: unknown variable, ignored (the nearest known is ",
	}
	if len(w) != 2 || w[0] != want[0] || !strings.HasPrefix(w[1], want[1]) {
		t.Fatalf("warnings\n  %q\nwant\n  %q", w, want)
	}
	if len(c.Warnings()) != 2 {
		t.Fatalf("Warnings() = %v", c.Warnings())
	}
}

// Without WithWarnings, warnings go to the configured logger, and still go
// out when Load fails: a misspelt variable often explains the error.
func TestWarningsAreLogged(t *testing.T) {
	var buf strings.Builder
	l := slog.New(slog.NewTextHandler(&buf, nil))
	_, err := config.Load("", env("MQWAL_RMQ_SYNCC", "none", "MQWAL_RMQ_PATH", ""), config.WithBackend("nosuch"), config.WithLogger(l))
	if err == nil {
		t.Fatal("no error for an unknown backend")
	}
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "did you mean MQWAL_RMQ_SYNC?") {
		t.Fatalf("log: %q", buf.String())
	}
}

func TestKeysAndEnvVars(t *testing.T) {
	keys := config.Keys()
	want := map[string]string{
		"backend":                   "MQWAL_BACKEND",
		"adaptor.write_ahead_cache": "MQWAL_ADAPTOR_WRITE_AHEAD_CACHE",
		"adaptor.close_timeout":     "MQWAL_ADAPTOR_CLOSE_TIMEOUT",
		"log.level":                 "MQWAL_LOG_LEVEL",
		"rmq.path":                  "MQWAL_RMQ_PATH",
		"rmq.sync":                  "MQWAL_RMQ_SYNC",
		"memory.max_message_size":   "MQWAL_MEMORY_MAX_MESSAGE_SIZE",
	}
	have := map[string]bool{}
	for _, k := range keys {
		have[k] = true
	}
	for k, e := range want {
		if !have[k] {
			t.Errorf("Keys() lacks %s", k)
		}
		if got := config.EnvVar(k); got != e {
			t.Errorf("EnvVar(%s) = %s, want %s", k, got, e)
		}
	}
	if have["kafka.brokers"] {
		t.Error("Keys() lists kafka.brokers, but kafka is not compiled in")
	}
	ref := map[string]config.Key{}
	for _, k := range config.Reference() {
		ref[k.Key] = k
	}
	if k := ref["rmq.path"]; k.Backend != "rmq" || k.Default != "./mqwal-data" || k.Env != "MQWAL_RMQ_PATH" || k.Type != "a string" {
		t.Errorf("Reference rmq.path = %+v", k)
	}
	if k := ref["adaptor.close_timeout"]; k.Backend != "" || k.Default != "10s" {
		t.Errorf("Reference adaptor.close_timeout = %+v", k)
	}
	if k := ref["adaptor.write_ahead_cache"]; k.Default != "" || k.Type != "an integer" {
		t.Errorf("Reference adaptor.write_ahead_cache = %+v", k)
	}
}

// A built-in backend that is not compiled in is named with the import that
// is missing: as the backend, as a section of the file, and (a warning only)
// in the environment.
func TestBackendNotCompiledIn(t *testing.T) {
	const want = `backend "kafka" is not registered: import _ "github.com/mqwal/mqwal/impls/kafka"`
	_, err := config.Load("", env("MQWAL_BACKEND", "kafka"))
	configtest.Check(t, err, "config: MQWAL_BACKEND (backend): "+want+" (registered: ", walimpls.ErrUnknownBackend)
	p := writeFile(t, "backend: rmq\nkafka:\n  brokers: [a:9092]\n")
	_, err = config.Load(p, env())
	configtest.Check(t, err, "config: "+p+":2: kafka: "+want, walimpls.ErrUnknownBackend)
	var w warnings
	if _, err := config.Load("", env("MQWAL_PULSAR_URL", "pulsar://p:6650"), w.opt()); err != nil {
		t.Fatal(err)
	}
	if len(w) != 1 || w[0] != `config: MQWAL_PULSAR_URL: ignored: backend "pulsar" is not registered: import _ "github.com/mqwal/mqwal/impls/pulsar"` {
		t.Fatalf("warnings %q", w)
	}
}

func TestValidationErrors(t *testing.T) {
	configtest.Refused(t, []configtest.Case{
		{Name: "unknown backend", YAML: "backend: nosuch\n", Want: `backend: unknown backend "nosuch" (registered: `, Sentinel: walimpls.ErrUnknownBackend},
		{Name: "unknown backend from env", Env: []string{"MQWAL_BACKEND", "nosuch"}, Want: `MQWAL_BACKEND (backend): unknown backend "nosuch"`, Sentinel: walimpls.ErrUnknownBackend},
		{Name: "unknown backend from flag", Backend: "nosuch", Want: `config: --backend: unknown backend "nosuch"`, Sentinel: walimpls.ErrUnknownBackend},
		{Name: "empty backend", YAML: "backend: ''\n", Want: "backend: must not be empty"},
		{Name: "unknown top key", YAML: "backnd: rmq\n", Want: "backnd: unknown key (known here: backend, adaptor, log, example-echo, memory, rmq)"},
		{Name: "unknown nested key", YAML: "rmq:\n  pth: /x\n", Want: "rmq.pth: unknown key (known here: path, sync, group_commit_window, max_message_size)"},
		{Name: "unknown adaptor key", YAML: "adaptor:\n  cache: 1\n", Want: "adaptor.cache: unknown key (known here: write_ahead_cache, max_in_flight_bytes, close_timeout, max_message_size)"},
		{Name: "duplicate key", YAML: "rmq:\n  path: a\n  path: b\n", Want: "rmq.path: given twice (first at line 2)"},
		{Name: "section not a mapping", YAML: "rmq: /data\n", Want: "rmq: must be a mapping of keys"},
		{Name: "top not a mapping", YAML: "- rmq\n", Want: "the top level must be a mapping"},
		{Name: "syntax error", YAML: "rmq:\n  path: [\n", Want: "did not find expected node content"},
		{Name: "two documents", YAML: "backend: rmq\n---\nbackend: memory\n", Want: "more than one YAML document"},
		{Name: "int wrong type", YAML: "rmq:\n  max_message_size: big\n", Want: `rmq.max_message_size: must be an integer, got "big"`},
		{Name: "duration wrong type", YAML: "adaptor:\n  close_timeout: 5\n", Want: `adaptor.close_timeout: must be a duration such as 500ms or 10s, got "5"`},
		{Name: "env duration", Env: []string{"MQWAL_ADAPTOR_CLOSE_TIMEOUT", "soon"}, Want: `MQWAL_ADAPTOR_CLOSE_TIMEOUT (adaptor.close_timeout): must be a duration such as 500ms or 10s, got "soon"`},
		{Name: "negative cache", YAML: "adaptor:\n  write_ahead_cache: -1\n", Want: "adaptor.write_ahead_cache: must be >= 0 (0 turns the cache off; leave it out for the default), got -1"},
		{Name: "negative in flight", Env: []string{"MQWAL_ADAPTOR_MAX_IN_FLIGHT_BYTES", "-1"}, Want: "MQWAL_ADAPTOR_MAX_IN_FLIGHT_BYTES (adaptor.max_in_flight_bytes): must be >= 0 (0 removes the bound), got -1"},
		{Name: "negative close timeout", YAML: "adaptor:\n  close_timeout: -1s\n", Want: "adaptor.close_timeout: must be >= 0, got -1s"},
		{Name: "negative max size", YAML: "adaptor:\n  max_message_size: -1\n", Want: "adaptor.max_message_size: must be >= 0 (0 is the backend's limit), got -1"},
		{Name: "log level", YAML: "log:\n  level: loud\n", Want: `log.level: must be off, error, warn, info or debug, got "loud"`},
		{Name: "log format", Env: []string{"MQWAL_LOG_FORMAT", "xml"}, Want: `MQWAL_LOG_FORMAT (log.format): must be text or json, got "xml"`},
		{Name: "log not a mapping", YAML: "log: debug\n", Want: "log: must be a mapping of keys"},
	})
}

// A YAML syntax error names the line where the document stops making
// sense, not yaml's (an unclosed "[" on line 2 was reported on line 1).
func TestSyntaxErrorLine(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"rmq:\n  path: [\n", ":2: did not find expected node content"},
		{"backend: rmq\nrmq:\n  path: [a, b\n  sync: x\n", `:3: did not find expected ',' or ']' (the "[" on this line is not closed)`},
		{"rmq:\n  path: {a: b\n", `:2: did not find expected ',' or '}' (the "{" on this line is not closed)`},
		{"a: 1\nrmq: [1, 2\nb: 3\n", `:2: did not find expected ',' or ']'`},
		{"rmq:\n path: x\n  sync: y\n", ":3: mapping values are not allowed in this context"},
		{"rmq:\n  path: x\n\tsync: y\n", ":3: found a tab character"},
		{"backend: rmq\nrmq: {path: a, sync: b: c}\n", ":2: "},
		{"# comment\nkafka:\n  brokers: [a:1,\n    b:2]\nrmq: [\n", ":5: "},
	} {
		_, err := config.Parse("bad.yaml", []byte(tc.yaml), env())
		configtest.Check(t, err, "config: bad.yaml"+tc.want, nil)
	}
}

func TestMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := config.Load(p, env())
	if err == nil || err.Error() != "config: "+p+": cannot read file: no such file or directory" {
		t.Fatalf("got %v", err)
	}
	if !errors.Is(err, os.ErrNotExist) || !errors.Is(err, walimpls.ErrInvalidArgument) {
		t.Fatalf("%v does not wrap ErrNotExist and ErrInvalidArgument", err)
	}
}

func TestUnknownBackendListsRegistered(t *testing.T) {
	_, err := config.Load("", env(), config.WithBackend("nosuch"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"memory", "rmq"} {
		if !strings.Contains(err.Error(), name) {
			t.Fatalf("%v does not list %s", err, name)
		}
	}
}

func TestValidateProgrammatic(t *testing.T) {
	c := config.Default()
	rmqSection(c).Sync = "sometimes"
	err := c.Validate()
	if err == nil || err.Error() != `config: rmq.sync: must be sync, group or none, got "sometimes"` {
		t.Fatalf("got %v", err)
	}
	if _, err := c.DriverBuilder(); err == nil {
		t.Fatal("DriverBuilder built an invalid config")
	}
	rmqSection(c).Sync = "none"
	rmqSection(c).Path = t.TempDir()
	b, err := c.DriverBuilder()
	if err != nil {
		t.Fatal(err)
	}
	o, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
}

// A clone shares nothing with its original.
func TestClone(t *testing.T) {
	c, err := config.Parse("c.yaml", []byte("adaptor:\n  write_ahead_cache: 5\nrmq:\n  path: /a\n"), env())
	if err != nil {
		t.Fatal(err)
	}
	d := c.Clone()
	rmqSection(d).Path = "/b"
	*d.Adaptor.WriteAheadCache = 6
	d.Backend = "memory"
	if rmqSection(c).Path != "/a" || *c.Adaptor.WriteAheadCache != 5 || c.Backend != "rmq" {
		t.Fatalf("changing the clone changed the original: %+v %+v", rmqSection(c), c.Adaptor)
	}
	if d.Source("rmq.path") != "c.yaml:4" {
		t.Fatalf("clone lost the sources: %q", d.Source("rmq.path"))
	}
}
