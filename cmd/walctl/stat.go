package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

func newStatCmd(a *app) *cobra.Command {
	var channel, format string
	cmd := &cobra.Command{
		Use:   "stat [-c CHANNEL] [--format text|json]",
		Short: "Show channels' retained range, size, term and writer",
		Long: `stat describes a channel (-c) or every channel the backend holds, from the
backend's metadata, without reading the messages: the first and last
retained record's id, how many records and bytes are retained, the highest
term that opened it for writing and whether a writer holds it now, and the
backend's own name for it (the Kafka or Pulsar topic). Records include
mqwal's own fence records, so the range and the count can be wider than
what scan shows. What a backend cannot tell is "?" (null in json).

It needs the driver to implement walimpls.StatReader (and, without -c,
walimpls.ChannelLister); it says so and fails when the backend's driver does
not. --format json prints one object per channel per line:
{"channel","backend_name","first","last","messages","bytes","term","writer"}.
The channels are opened read-only: stat never writes.`,
		Example: `  walctl stat -c orders
  walctl --config kafka.yaml stat --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usagef("--format %q: want text or json", format)
			}
			return a.stat(cmd.Context(), channel, format)
		},
	}
	cmd.Flags().StringVarP(&channel, "channel", "c", "", "channel `NAME` (default: every channel the backend lists)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

type jsonStat struct {
	Channel     string  `json:"channel"`
	BackendName string  `json:"backend_name"`
	First       *string `json:"first"`
	Last        *string `json:"last"`
	Messages    *int64  `json:"messages"`
	Bytes       *int64  `json:"bytes"`
	Term        *int64  `json:"term"`
	Writer      string  `json:"writer"`
}

func (a *app) stat(ctx context.Context, channel, format string) error {
	b, err := a.open()
	if err != nil {
		return err
	}
	a.releaseLater(ctx, b)
	name := b.cfg.Backend
	channels := []string{channel}
	if channel == "" {
		channels, err = wal.ListChannels(ctx, b.opener)
		switch {
		case errors.Is(err, wal.ErrUnsupported):
			return fmt.Errorf("stat: backend %s cannot list its channels (its driver does not implement walimpls.ChannelLister); name one with -c CHANNEL", name)
		case err != nil:
			return fmt.Errorf("stat: list %s channels: %w", name, err)
		}
	}
	stats := make([]wal.ChannelStat, 0, len(channels))
	for _, ch := range channels {
		st, err := channelStat(ctx, b.opener, name, ch)
		if err != nil {
			return err
		}
		stats = append(stats, st)
	}
	if format == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetEscapeHTML(false)
		for _, st := range stats {
			if err := enc.Encode(toJSONStat(st)); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL\tFIRST\tLAST\tMESSAGES\tBYTES\tTERM\tWRITER\tBACKEND NAME")
	for _, st := range stats {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Channel, idString(st.First), idString(st.Last),
			count(st.Messages), count(st.Bytes), count(st.Term), st.Writer, orDash(st.BackendName))
	}
	return tw.Flush()
}

// channelStat asks the backend about channel (wal.Stat) through a
// read-only WAL.
func channelStat(ctx context.Context, o wal.Opener, backend, channel string) (wal.ChannelStat, error) {
	w, err := o.Open(ctx, &wal.OpenOption{Channel: wal.Channel{Name: channel, AccessMode: wal.ReadOnly}})
	if err != nil {
		return wal.ChannelStat{}, fmt.Errorf("stat: %w", err) // the adaptor names the backend and the channel
	}
	defer w.Close()
	st, err := wal.Stat(ctx, w)
	switch {
	case errors.Is(err, wal.ErrUnsupported):
		return wal.ChannelStat{}, fmt.Errorf("stat: backend %s does not report channel statistics (its driver does not implement walimpls.StatReader)", backend)
	case err != nil:
		return wal.ChannelStat{}, fmt.Errorf("stat %q: %w", channel, err)
	}
	return st, nil
}

func toJSONStat(st wal.ChannelStat) jsonStat {
	j := jsonStat{Channel: st.Channel, BackendName: st.BackendName, Writer: st.Writer.String()}
	if st.First != nil {
		s := st.First.Marshal()
		j.First = &s
	}
	if st.Last != nil {
		s := st.Last.Marshal()
		j.Last = &s
	}
	known := func(n int64) *int64 {
		if n == wal.Unknown {
			return nil
		}
		return &n
	}
	j.Messages, j.Bytes, j.Term = known(st.Messages), known(st.Bytes), known(st.Term)
	return j
}

func idString(id message.MessageID) string {
	if id == nil {
		return "-"
	}
	return id.Marshal()
}

func count(n int64) string {
	if n == wal.Unknown {
		return "?"
	}
	return fmt.Sprint(n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
