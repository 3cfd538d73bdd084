package kafka

import (
	"encoding/binary"
	"errors"
)

var errShort = errors.New("short record")

func varint(b []byte) (int64, int) { return binary.Varint(b) }
