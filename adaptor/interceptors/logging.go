package interceptors

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
)

// Logging logs failed appends at warn level (error level when the writer
// was fenced) and, at debug level only, every append. Lifecycle events
// (open, close, fence, scanner reconnects) are logged by the adaptor itself
// with the same logger. Logger nil means the adaptor's logger.
type Logging struct {
	Logger *zap.Logger
}

// Build returns the interceptor of one WAL.
func (l Logging) Build(p Param) Interceptor {
	log := l.Logger
	if log == nil {
		log = p.Logger
	} else {
		log = log.With(zap.String("backend", p.WALName), zap.String("channel", p.Channel.Name), zap.Int64("term", p.Channel.Term))
	}
	return &logging{log: log, debug: log.Core().Enabled(zapcore.DebugLevel)}
}

type logging struct {
	Nop
	log   *zap.Logger
	debug bool
}

func (l *logging) DoAppend(ctx context.Context, msg message.MutableMessage, next AppendFunc) (*wal.AppendResult, error) {
	start := time.Now()
	res, err := next(ctx, msg)
	switch {
	case err == nil:
		if l.debug {
			l.log.Debug("append", zap.Stringer("id", res.MessageID), zap.Int("bytes", msg.EstimateSize()), zap.Duration("took", time.Since(start)))
		}
	case errors.Is(err, wal.ErrFenced):
		l.log.Error("append fenced: a higher term owns the channel", zap.Error(err))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		if l.debug {
			l.log.Debug("append cancelled", zap.Error(err))
		}
	default:
		l.log.Warn("append failed", zap.Int("bytes", msg.EstimateSize()), zap.Duration("took", time.Since(start)), zap.Error(err))
	}
	return res, err
}
