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
then refuse reads below it (ErrOutOfRange); others may keep the data for a
while. scan --after ID reads exactly what remains.

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
			_, o, w, err := a.openChannel(ctx, wal.Channel{Name: channel, Term: term, AccessMode: wal.ReadWrite})
			if err != nil {
				return err
			}
			defer o.Close()
			defer w.Close()
			if err := w.Truncate(ctx, id); err != nil {
				return fmt.Errorf("truncate %q at %s: %w", channel, args[0], err)
			}
			_, err = fmt.Fprintf(a.stdout, "truncated %s up to and including %s\n", channel, id.Marshal())
			return err
		},
	}
	channelFlag(cmd, &channel)
	cmd.Flags().Int64Var(&term, "term", 1, "writer term to open the channel with")
	return cmd
}
