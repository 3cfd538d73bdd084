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
	"github.com/mqwal/mqwal/walimpls"
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
spaces, "-" when there are none; a payload, key or value that is not
printable UTF-8 is printed Go-quoted); with --format json one JSON object per
line, {"id","channel","properties","payload"}, with "payload_base64" instead
of "payload" when the payload is not valid UTF-8, and each property whose key
or value is not valid UTF-8 in "properties_base64" instead, key and value
both base64, so every byte stored is in the output.

--from all (the default) starts at the oldest retained message, --from latest
at the next message appended, --from ID at that message, --after ID right
after it.

Where it ends: without --follow, at the newest message the channel had when
scan started, at once (it asks the backend for that ID; every built-in
backend can tell). A backend that cannot tell it, or a newest record the
backend keeps to itself (Kafka writes one when a truncate empties a topic),
makes scan stop after --idle (default 1s) without a message instead. With
--follow it never ends by itself: it waits for new messages until Ctrl-C or
SIGTERM, then exits with status 0. --limit N stops after N messages either
way.

The channel is opened read-only: scan never writes. On rmq, the embedded
store, one process at a time uses a data directory: scan --follow there
sees only what it was started with, never another process's appends (the
other process cannot even open the directory while scan holds it); to tail
a channel that others write, use a broker backend (kafka, pulsar).`,
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
	cmd.Flags().DurationVar(&o.idle, "idle", time.Second, "without --follow, stop after this long without a message, when the backend cannot tell its newest message")
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
	b, w, err := a.openChannel(ctx, wal.Channel{Name: o.channel, AccessMode: wal.ReadOnly})
	if err != nil {
		return err
	}
	a.releaseLater(ctx, b) // closes w too
	// Without --follow, read up to the newest ID there is now.
	bounded := false
	if !o.follow {
		end, ok, err := latestID(ctx, b.opener, o.channel)
		if err != nil {
			return fmt.Errorf("scan %q: %w", o.channel, err)
		}
		if ok {
			if end == nil || !policyReaches(policy, end) {
				return nil // nothing stored at or after the start
			}
			b.ends.setEnd(o.channel, end)
			bounded = true
		}
	}
	s, err := w.Read(ctx, wal.ReadOption{Name: "walctl-scan", DeliverPolicy: policy})
	if err != nil {
		return fmt.Errorf("scan %q: %w", o.channel, err)
	}
	defer s.Close()

	out := newPrinter(a.stdout, o.format)
	// The idle stop is for backends that cannot tell their newest ID, and
	// for a newest record no reader is shown; a bounded scan that gets
	// messages never waits for it.
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
				if err := s.Error(); err != nil && !(bounded && reachedEnd(err)) {
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

// policyReaches reports whether a scan starting at p can deliver a message
// at or before end: whether there is anything to print up to end.
func policyReaches(p wal.DeliverPolicy, end message.MessageID) bool {
	switch p.Kind() {
	case walimpls.DeliverKindLatest:
		return false
	case walimpls.DeliverKindStartAfter:
		return p.ID().LT(end)
	case walimpls.DeliverKindStartFrom:
		return p.ID().LTE(end)
	}
	return true
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
	ID               string            `json:"id"`
	Channel          string            `json:"channel"`
	Properties       map[string]string `json:"properties"`
	PropertiesBase64 map[string]string `json:"properties_base64,omitempty"`
	Payload          *string           `json:"payload,omitempty"`
	PayloadBase64    *string           `json:"payload_base64,omitempty"`
}

func (p *printer) print(m message.ImmutableMessage) error {
	props := userProps(m.Properties())
	if p.json {
		j := jsonMessage{ID: m.MessageID().Marshal(), Channel: m.Channel(), Properties: map[string]string{}}
		for k, v := range props {
			// JSON strings are UTF-8: a key or value that is not would be
			// rewritten (and two such keys could become one).
			if utf8.ValidString(k) && utf8.ValidString(v) {
				j.Properties[k] = v
				continue
			}
			if j.PropertiesBase64 == nil {
				j.PropertiesBase64 = map[string]string{}
			}
			j.PropertiesBase64[base64.StdEncoding.EncodeToString([]byte(k))] = base64.StdEncoding.EncodeToString([]byte(v))
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

// appView is m as the application appended it, without the adaptor's
// reserved properties.
func appView(m message.ImmutableMessage) message.ImmutableMessage {
	all := m.Properties()
	user := userProps(all)
	if len(user) == len(all) {
		return m
	}
	return message.NewImmutableMessage(m.MessageID(), m.Channel(), m.Payload(), user)
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
