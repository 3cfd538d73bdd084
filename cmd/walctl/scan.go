package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

type scanOpts struct {
	channel string
	from    string
	after   string
	follow  bool
	limit   int
	format  string
	idle    time.Duration
}

func newScanCmd(a *app) *cobra.Command {
	var o scanOpts
	cmd := &cobra.Command{
		Use:   "scan -c CHANNEL [--from all|latest|ID | --after ID] [--follow] [--limit N] [--format text|json]",
		Short: "Print a channel's messages in order",
		Long: `scan prints a channel's messages in id order: with --format text one line
each, "ID<TAB>PROPERTIES<TAB>PAYLOAD" (properties as key=value separated by
spaces, "-" when there are none; a payload or value that is not printable
UTF-8 is printed Go-quoted); with --format json one JSON object per line,
{"id","channel","properties","payload"}, with "payload_base64" instead of
"payload" when the payload is not valid UTF-8.

--from all (the default) starts at the oldest retained message, --from latest
at the next message appended, --from ID at that message, --after ID right
after it.

Where it ends: with --follow, never: it waits for new messages until Ctrl-C
or SIGTERM, then exits with status 0. Without --follow there is no "last
message" to ask a backend for, so scan stops once no message has arrived for
--idle (default 1s) — by then it has printed everything stored before it
started, as long as the backend delivers stored messages without pausing
longer than that; raise --idle for a slow remote broker. --limit N stops after
N messages either way.

The channel is opened read-only: scan never writes.`,
		Example: `  walctl scan -c orders
  walctl scan -c orders --after 41 --limit 10 --format json
  walctl scan -c orders --from latest --follow`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.scan(cmd, o) },
	}
	channelFlag(cmd, &o.channel)
	cmd.Flags().StringVar(&o.from, "from", "all", "start: all, latest, or a message `ID` (inclusive)")
	cmd.Flags().StringVar(&o.after, "after", "", "start right after message `ID`")
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep waiting for new messages until interrupted")
	cmd.Flags().IntVarP(&o.limit, "limit", "n", 0, "stop after `N` messages (0: no limit)")
	cmd.Flags().StringVar(&o.format, "format", "text", "output format: text or json")
	cmd.Flags().DurationVar(&o.idle, "idle", time.Second, "without --follow, stop after this long without a message")
	cmd.MarkFlagsMutuallyExclusive("from", "after")
	return cmd
}

func (a *app) scan(cmd *cobra.Command, o scanOpts) error {
	if o.format != "text" && o.format != "json" {
		return usagef("--format %q: want text or json", o.format)
	}
	if o.limit < 0 {
		return usagef("--limit %d: want >= 0", o.limit)
	}
	if o.idle <= 0 {
		return usagef("--idle %s: want > 0", o.idle)
	}
	ctx := cmd.Context()
	cfg, err := a.config()
	if err != nil {
		return err
	}
	var policy wal.DeliverPolicy
	switch {
	case o.after != "":
		id, err := parseID(cfg.Backend, "--after", o.after)
		if err != nil {
			return err
		}
		policy = wal.StartAfter(id)
	case o.from == "all":
		policy = wal.DeliverAll()
	case o.from == "latest":
		policy = wal.DeliverLatest()
	default:
		id, err := parseID(cfg.Backend, "--from", o.from)
		if err != nil {
			return err
		}
		policy = wal.StartFrom(id)
	}
	_, opener, w, err := a.openChannel(ctx, wal.Channel{Name: o.channel, AccessMode: wal.ReadOnly})
	if err != nil {
		return err
	}
	defer opener.Close()
	defer w.Close()
	s, err := w.Read(ctx, wal.ReadOption{Name: "walctl-scan", DeliverPolicy: policy})
	if err != nil {
		return fmt.Errorf("scan %q: %w", o.channel, err)
	}
	defer s.Close()

	out := newPrinter(a.stdout, o.format)
	idle := time.NewTimer(o.idle)
	defer idle.Stop()
	var idleC <-chan time.Time
	if !o.follow {
		idleC = idle.C
	}
	n := 0
	for o.limit == 0 || n < o.limit {
		select {
		case m, ok := <-s.Chan():
			if !ok {
				if err := s.Error(); err != nil {
					return fmt.Errorf("scan %q after %d messages: %w", o.channel, n, err)
				}
				return nil
			}
			if err := out.print(m); err != nil {
				return err
			}
			n++
			if !o.follow {
				idle.Reset(o.idle)
			}
		case <-idleC:
			return nil
		case <-ctx.Done():
			if o.follow {
				return nil // Ctrl-C is how --follow ends
			}
			return fmt.Errorf("scan %q interrupted after %d messages", o.channel, n)
		}
	}
	return nil
}

type printer struct {
	w    io.Writer
	json bool
	enc  *json.Encoder
}

func newPrinter(w io.Writer, format string) *printer {
	p := &printer{w: w, json: format == "json"}
	if p.json {
		p.enc = json.NewEncoder(w)
		p.enc.SetEscapeHTML(false)
	}
	return p
}

type jsonMessage struct {
	ID            string             `json:"id"`
	Channel       string             `json:"channel"`
	Properties    message.Properties `json:"properties"`
	Payload       *string            `json:"payload,omitempty"`
	PayloadBase64 *string            `json:"payload_base64,omitempty"`
}

func (p *printer) print(m message.ImmutableMessage) error {
	props := userProps(m.Properties())
	if p.json {
		j := jsonMessage{ID: m.MessageID().Marshal(), Channel: m.Channel(), Properties: props}
		if j.Properties == nil {
			j.Properties = message.Properties{}
		}
		if utf8.Valid(m.Payload()) {
			s := string(m.Payload())
			j.Payload = &s
		} else {
			s := base64.StdEncoding.EncodeToString(m.Payload())
			j.PayloadBase64 = &s
		}
		return p.enc.Encode(j)
	}
	var b strings.Builder
	b.WriteString(m.MessageID().Marshal())
	b.WriteByte('\t')
	if len(props) == 0 {
		b.WriteByte('-')
	}
	for i, k := range props.Keys() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(printable(k, true))
		b.WriteByte('=')
		b.WriteString(printable(props[k], true))
	}
	b.WriteByte('\t')
	b.WriteString(printable(string(m.Payload()), false))
	b.WriteByte('\n')
	_, err := io.WriteString(p.w, b.String())
	return err
}

// userProps hides the adaptor's reserved properties (term stamps): they are
// bookkeeping, not what the application appended.
func userProps(p message.Properties) message.Properties {
	var out message.Properties
	for k, v := range p {
		if strings.HasPrefix(k, message.ReservedPropertyPrefix) {
			continue
		}
		if out == nil {
			out = message.Properties{}
		}
		out[k] = v
	}
	return out
}

// printable returns s as is when it is printable UTF-8 that cannot be
// mistaken for a separator, Go-quoted otherwise.
func printable(s string, inProps bool) string {
	if !utf8.ValidString(s) || strings.HasPrefix(s, `"`) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || (inProps && (r == ' ' || r == '=')) {
			return strconv.Quote(s)
		}
	}
	return s
}
