package interceptors

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// Logging logs failed appends at warn level (error level when the writer
// was fenced) and, at debug level only, every append. Lifecycle events
// (open, close, fence, scanner reconnects) are logged by the adaptor itself
// with the same logger. Logger nil means the adaptor's logger.
type Logging struct {
	Logger *slog.Logger
}

// Build returns the interceptor of one WAL.
func (l Logging) Build(p Param) Interceptor {
	log := l.Logger
	if log == nil {
		log = p.Logger
	} else {
		log = log.With(slog.String("backend", p.WALName), slog.String("channel", p.Channel.Name), slog.Int64("term", p.Channel.Term))
	}
	return &logging{log: log, debug: log.Enabled(context.Background(), slog.LevelDebug)}
}

type logging struct {
	Nop
	log   *slog.Logger
	debug bool
}

func (l *logging) DoAppend(ctx context.Context, msg message.MutableMessage, next AppendFunc) (*wal.AppendResult, error) {
	start := time.Now()
	res, err := next(ctx, msg)
	switch {
	case err == nil:
		if l.debug {
			l.log.Debug("append", slog.String("id", res.MessageID.String()), slog.Int("bytes", msg.EstimateSize()), slog.Duration("took", time.Since(start)))
		}
	case errors.Is(err, wal.ErrFenced):
		l.log.Error("append fenced: a higher term owns the channel", slog.Any("error", err))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		if l.debug {
			l.log.Debug("append cancelled", slog.Any("error", err))
		}
	default:
		l.log.Warn("append failed", slog.Int("bytes", msg.EstimateSize()), slog.Duration("took", time.Since(start)), slog.Any("error", err))
	}
	return res, err
}
