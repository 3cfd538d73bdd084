package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

func newAppendCmd(a *app) *cobra.Command {
	var (
		channel string
		props   []string
		term    int64
	)
	cmd := &cobra.Command{
		Use:   "append -c CHANNEL [-p key=value]... [PAYLOAD...]",
		Short: "Append messages to a channel and print their ids",
		Long: `append appends each PAYLOAD argument as one message, or, with no arguments,
each line of standard input (without its line ending), in order, one at a
time: each append is durable before the next starts. It prints each
message's id, one per line, in the form scan --from/--after and truncate take.

The channel is opened for writing with --term; opening it fences writers of
lower terms, and fails if a higher term has opened it.`,
		Example: `  walctl append -c orders hello world
  walctl append -c orders -p source=cli -p kind=test '{"id":1}'
  seq 1 100 | walctl append -c numbers`,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parseProps(props)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			b, w, err := a.openChannel(ctx, wal.Channel{Name: channel, Term: term, AccessMode: wal.ReadWrite})
			if err != nil {
				return err
			}
			a.releaseLater(ctx, b) // closes w too
			n := 0
			appendOne := func(payload []byte) error {
				res, err := w.Append(ctx, message.NewMutableMessage(payload, p.Clone()))
				if err != nil {
					if ctx.Err() != nil {
						return fmt.Errorf("append to %q interrupted after %d messages: %w", channel, n, err)
					}
					return fmt.Errorf("append to %q: %w", channel, err)
				}
				n++
				_, err = fmt.Fprintln(a.stdout, res.MessageID.Marshal())
				return err
			}
			if len(args) > 0 {
				for _, arg := range args {
					if err := appendOne([]byte(arg)); err != nil {
						return err
					}
				}
				return nil
			}
			err = eachLine(ctx, a.stdin, appendOne)
			if errors.Is(err, errInterrupted) {
				return fmt.Errorf("append to %q interrupted after %d messages", channel, n)
			}
			return err
		},
	}
	channelFlag(cmd, &channel)
	cmd.Flags().StringArrayVarP(&props, "property", "p", nil, "property `key=value` on every message (repeatable)")
	cmd.Flags().Int64Var(&term, "term", 1, "writer term to open the channel with")
	return cmd
}

func parseProps(kvs []string) (message.Properties, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	p := message.Properties{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("--property %q: want key=value", kv)
		}
		if _, dup := p[k]; dup {
			return nil, usagef("--property %q: key %q given twice", kv, k)
		}
		p[k] = v
	}
	if err := p.ValidateUser(); err != nil {
		return nil, usagef("--property: %v", err)
	}
	return p, nil
}

// errInterrupted: eachLine stopped because its context ended.
var errInterrupted = errors.New("interrupted")

// eachLine calls fn with each line of r, without "\n" or "\r\n". Lines may be
// of any length; a last line without a newline counts. It returns
// errInterrupted as soon as ctx ends, also while r blocks (a terminal or a
// pipe with nothing to read): the read goes on in a goroutine whose result
// is dropped, and walctl exits.
func eachLine(ctx context.Context, r io.Reader, fn func([]byte) error) error {
	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the reader goroutine unless it is blocked in Read
	type line struct {
		b   []byte
		err error
	}
	lines := make(chan line)
	next := make(chan struct{})
	go func() {
		defer close(lines)
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			b, err := br.ReadBytes('\n')
			select {
			case lines <- line{b, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			select {
			case <-next:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		var l line
		select {
		case l = <-lines:
		case <-outer.Done():
			return errInterrupted
		}
		if len(l.b) > 0 {
			b := bytes.TrimSuffix(l.b, []byte("\n"))
			b = bytes.TrimSuffix(b, []byte("\r"))
			if err := fn(b); err != nil {
				return err
			}
		}
		if errors.Is(l.err, io.EOF) {
			return nil
		}
		if l.err != nil {
			return fmt.Errorf("read stdin: %w", l.err)
		}
		// The reader may have seen ctx end while fn ran and gone: a bare
		// send would then wait forever.
		select {
		case next <- struct{}{}:
		case <-outer.Done():
			return errInterrupted
		}
	}
}
