package adaptor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqwal/mqwal/adaptor"
	"github.com/mqwal/mqwal/impls/memory"
	"github.com/mqwal/mqwal/impls/rmq"
	"github.com/mqwal/mqwal/message"
	"github.com/mqwal/mqwal/wal"
	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
	"github.com/mqwal/mqwal/walimpls/walimplstest"
)

// The conformance harness runs through the whole adaptor: a wal.Opener is
// turned back into a walimpls driver (asDriver) whose scanners hide the
// adaptor's reserved properties, so every rule of the driver contract, and
// the history checker, is checked on what applications see.

func TestConformanceMemory(t *testing.T) {
	store := memory.NewStore()
	walimplstest.Run(t, walimplstest.Harness{
		NewOpener: func() (walimpls.OpenerImpls, error) {
			return asDriver(adaptor.NewOpenerBuilder(memory.NewBuilder(memory.WithStore(store))).Build())
		},
	})
}

// TestConformanceMemoryCacheFaults adds the write-ahead cache and a fault
// that fails every driver scanner at once while the history checker runs.
func TestConformanceMemoryCacheFaults(t *testing.T) {
	store := memory.NewStore()
	kick := newKicker()
	walimplstest.Run(t, walimplstest.Harness{
		NewOpener: func() (walimpls.OpenerImpls, error) {
			impl, _ := memory.NewBuilder(memory.WithStore(store)).Build()
			fo := newFaultyOpener(impl, faults{}, 1)
			fo.kick = kick
			return asDriver(adaptor.NewOpener(memory.Name, fo, adaptor.WithWriteAheadCache(1<<14),
				adaptor.WithScannerBackoff(time.Millisecond, 10*time.Millisecond)), nil)
		},
		Faults: []walimplstest.Fault{{Name: "fail-all-scanners", Inject: func(context.Context) error { kick.kick(); return nil }}},
	})
}

// TestConformanceMemorySharedLog presents the memory store as a backend
// other clients write to (no ExclusiveLog, records stored through a bare
// memory opener), with the write-ahead cache asked for: the cache must stay
// off, so the writer's scanners deliver the foreign records.
func TestConformanceMemorySharedLog(t *testing.T) {
	store := memory.NewStore()
	walimplstest.Run(t, walimplstest.Harness{
		NewOpener: func() (walimpls.OpenerImpls, error) {
			impl, _ := memory.NewBuilder(memory.WithStore(store)).Build()
			return asDriver(adaptor.NewOpener(memory.Name, sharedLog{impl}, adaptor.WithWriteAheadCache(1<<20)), nil)
		},
		ForeignAppend: memoryForeignAppend(store),
	})
}

func TestConformanceRMQ(t *testing.T) {
	dir := t.TempDir()
	walimplstest.Run(t, walimplstest.Harness{
		NewOpener: func() (walimpls.OpenerImpls, error) {
			return asDriver(adaptor.NewOpenerBuilder(rmq.NewBuilder(rmq.WithPath(dir))).Build())
		},
	})
}

// asDriver presents a wal.Opener as a walimpls driver.
func asDriver(o wal.Opener, err error) (walimpls.OpenerImpls, error) {
	if err != nil {
		return nil, err
	}
	return driverOpener{o}, nil
}

type driverOpener struct{ o wal.Opener }

func (d driverOpener) Capabilities() walimpls.Capabilities { return d.o.Capabilities() }
func (d driverOpener) Close()                              { d.o.Close() }
func (d driverOpener) Open(ctx context.Context, opt *walimpls.OpenOption) (walimpls.WALImpls, error) {
	if opt == nil {
		return nil, walimpls.ErrInvalidArgument
	}
	w, err := d.o.Open(ctx, &wal.OpenOption{Channel: opt.Channel})
	if err != nil {
		return nil, err
	}
	// The harness checks LatestID and Stat where a WAL has them; through
	// the adaptor, a WAL has them when its driver answers (not
	// ErrUnsupported).
	d0 := driverWAL{w}
	_, latestErr := wal.LatestID(ctx, w)
	_, statErr := wal.Stat(ctx, w)
	latest, stat := !errors.Is(latestErr, wal.ErrUnsupported), !errors.Is(statErr, wal.ErrUnsupported)
	switch {
	case latest && stat:
		return struct {
			driverWAL
			wal.LatestIDReader
			wal.StatReader
		}{d0, w.(wal.LatestIDReader), w.(wal.StatReader)}, nil
	case latest:
		return struct {
			driverWAL
			wal.LatestIDReader
		}{d0, w.(wal.LatestIDReader)}, nil
	case stat:
		return struct {
			driverWAL
			wal.StatReader
		}{d0, w.(wal.StatReader)}, nil
	}
	return d0, nil
}

type driverWAL struct{ w wal.WAL }

func (d driverWAL) WALName() string           { return d.w.WALName() }
func (d driverWAL) Channel() walimpls.Channel { return d.w.Channel() }
func (d driverWAL) Close()                    { d.w.Close() }
func (d driverWAL) Truncate(ctx context.Context, id message.MessageID) error {
	return d.w.Truncate(ctx, id)
}
func (d driverWAL) Append(ctx context.Context, msg message.MutableMessage) (message.MessageID, error) {
	res, err := d.w.Append(ctx, msg)
	if err != nil {
		return nil, err
	}
	return res.MessageID, nil
}
func (d driverWAL) Read(ctx context.Context, opt walimpls.ReadOption) (walimpls.ScannerImpls, error) {
	s, err := d.w.Read(ctx, wal.ReadOption{Name: opt.Name, DeliverPolicy: opt.DeliverPolicy, ReadAheadBufferSize: opt.ReadAheadBufferSize})
	if err != nil {
		return nil, err
	}
	return helper.NewScanner(opt.Name, 1, func(ctx context.Context, emit helper.Emit) error {
		defer s.Close()
		for {
			select {
			case m, ok := <-s.Chan():
				if !ok {
					return s.Error()
				}
				if err := emit(appView(m)); err != nil {
					return err
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}), nil
}

// kicker fails every faulty scanner that is running when kick is called.
type kicker struct{ ch chan chan struct{} }

func newKicker() *kicker {
	k := &kicker{ch: make(chan chan struct{}, 1)}
	k.ch <- make(chan struct{})
	return k
}

func (k *kicker) current() <-chan struct{} { c := <-k.ch; k.ch <- c; return c }
func (k *kicker) kick()                    { c := <-k.ch; close(c); k.ch <- make(chan struct{}) }
