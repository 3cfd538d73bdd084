package kafkatest

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
)

// trackingListener wraps each accepted connection in a faultConn, so the
// cluster can close live connections and swallow chosen responses.
type trackingListener struct {
	net.Listener
	c *Cluster
}

func (l *trackingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &faultConn{Conn: conn, c: l.c, keys: map[int32]int16{}}
	l.c.track(fc, true)
	return fc, nil
}

var errResponseDropped = errors.New("kafkatest: response dropped by fault injection")

// faultConn follows the Kafka framing in both directions: requests are
// [size int32][api key int16][version int16][correlation id int32]...,
// responses [size int32][correlation id int32].... It remembers each
// request's API key by correlation ID so a response can be recognised and
// dropped after the broker has done the work.
type faultConn struct {
	net.Conn
	c *Cluster

	closeOnce sync.Once

	rmu   sync.Mutex
	rhead []byte // partial request header
	rskip int    // request body bytes still to pass

	mu   sync.Mutex
	keys map[int32]int16

	wmu   sync.Mutex
	whead []byte // partial response header, held back until complete
	wskip int
	dead  bool
}

func (fc *faultConn) Read(p []byte) (int, error) {
	n, err := fc.Conn.Read(p)
	if fc.c.cfg.tls != nil {
		return n, err // encrypted above this hook: nothing to follow
	}
	fc.rmu.Lock()
	fc.scanRequests(p[:n])
	fc.rmu.Unlock()
	return n, err
}

func (fc *faultConn) scanRequests(b []byte) {
	for len(b) > 0 {
		if fc.rskip > 0 {
			k := min(fc.rskip, len(b))
			fc.rskip -= k
			b = b[k:]
			continue
		}
		k := min(12-len(fc.rhead), len(b))
		fc.rhead = append(fc.rhead, b[:k]...)
		b = b[k:]
		if len(fc.rhead) < 12 {
			return
		}
		size := int(int32(binary.BigEndian.Uint32(fc.rhead[0:4])))
		key := int16(binary.BigEndian.Uint16(fc.rhead[4:6]))
		corr := int32(binary.BigEndian.Uint32(fc.rhead[8:12]))
		fc.mu.Lock()
		fc.keys[corr] = key
		fc.mu.Unlock()
		fc.rskip = max(size-8, 0)
		fc.rhead = fc.rhead[:0]
	}
}

func (fc *faultConn) Write(p []byte) (int, error) {
	fc.wmu.Lock()
	defer fc.wmu.Unlock()
	if fc.dead {
		return 0, errResponseDropped
	}
	if fc.c.cfg.tls != nil {
		return fc.Conn.Write(p)
	}
	total := len(p)
	b := p
	for len(b) > 0 {
		if fc.wskip > 0 {
			k := min(fc.wskip, len(b))
			if _, err := fc.Conn.Write(b[:k]); err != nil {
				return total - len(b), err
			}
			fc.wskip -= k
			b = b[k:]
			continue
		}
		k := min(8-len(fc.whead), len(b))
		fc.whead = append(fc.whead, b[:k]...)
		b = b[k:]
		if len(fc.whead) < 8 {
			return total, nil
		}
		size := int(int32(binary.BigEndian.Uint32(fc.whead[0:4])))
		corr := int32(binary.BigEndian.Uint32(fc.whead[4:8]))
		fc.mu.Lock()
		key, ok := fc.keys[corr]
		delete(fc.keys, corr)
		fc.mu.Unlock()
		if ok && fc.c.takeDrop(key) {
			fc.dead = true
			fc.Close() //nolint:errcheck // dropping the connection: nothing more is read or sent on it
			return total - len(b), errResponseDropped
		}
		if _, err := fc.Conn.Write(fc.whead); err != nil {
			return total - len(b), err
		}
		fc.whead = fc.whead[:0]
		fc.wskip = max(size-4, 0)
	}
	return total, nil
}

func (fc *faultConn) Close() error {
	var err error
	fc.closeOnce.Do(func() {
		fc.c.track(fc, false)
		err = fc.Conn.Close()
	})
	return err
}
