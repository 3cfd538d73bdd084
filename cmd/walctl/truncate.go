package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mqwal/mqwal/wal"
)

func newTruncateCmd(a *app) *cobra.Command {
	var (
		channel string
		term    int64
	)
	cmd := &cobra.Command{
		Use:   "truncate -c CHANNEL ID",
		Short: "Allow a channel's messages up to and including ID to be discarded",
		Long: `truncate tells the backend that every message of the channel up to and
including ID may be discarded. Backends with physical truncation (rmq, kafka)
delete it and then refuse reads below it (ErrOutOfRange), and truncate says
"truncated". The others (pulsar) only mark it for deletion by the broker's
own retention, and truncate says so: until retention runs, scan still shows
it. Either way, scan --after ID reads exactly what remains after ID.

Truncating opens the channel for writing with --term, like append.`,
		Example: `  walctl truncate -c orders 41
  walctl scan -c orders --after 41`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			id, err := parseID(cfg.Backend, "ID", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			b, w, err := a.openChannel(ctx, wal.Channel{Name: channel, Term: term, AccessMode: wal.ReadWrite})
			if err != nil {
				return err
			}
			a.releaseLater(ctx, b) // closes w too
			if err := w.Truncate(ctx, id); err != nil {
				return fmt.Errorf("truncate %q at %s: %w", channel, args[0], err)
			}
			if !b.opener.Capabilities().PhysicalTruncate {
				_, err = fmt.Fprintf(a.stdout, "marked %s up to and including %s for deletion: %s deletes it by its own retention; until then reads still see it\n",
					channel, id.Marshal(), b.cfg.Backend)
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "truncated %s up to and including %s\n", channel, id.Marshal())
			return err
		},
	}
	channelFlag(cmd, &channel)
	cmd.Flags().Int64Var(&term, "term", 1, "writer term to open the channel with")
	return cmd
}
