package holder

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// entry is the live version of a record, stored under its key: where its
// leaf is, which version it is, its salt and its raw values. One badger
// entry per record keeps bulk loads to one write per record.
type entry struct {
	Pos     uint64
	Version uint64
	Salt    fr.Element
	Values  []string
}

const entryFormat = 1

// maxEntryValues bounds a decoded entry; schemas have at most 16 fields.
const maxEntryValues = 64

func (e *entry) append(dst []byte) []byte {
	dst = append(dst, entryFormat)
	dst = binary.AppendUvarint(dst, e.Pos)
	dst = binary.AppendUvarint(dst, e.Version)
	salt := e.Salt.Bytes()
	dst = append(dst, salt[:]...)
	dst = binary.AppendUvarint(dst, uint64(len(e.Values)))
	for _, v := range e.Values {
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

var errCorruptEntry = errors.New("corrupt record entry")

func decodeEntry(b []byte) (*entry, error) {
	if len(b) == 0 || b[0] != entryFormat {
		return nil, fmt.Errorf("%w: unknown format", errCorruptEntry)
	}
	b = b[1:]
	uvarint := func() (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, fmt.Errorf("%w: bad varint", errCorruptEntry)
		}
		b = b[n:]
		return v, nil
	}
	var e entry
	var err error
	if e.Pos, err = uvarint(); err != nil {
		return nil, err
	}
	if e.Version, err = uvarint(); err != nil {
		return nil, err
	}
	if len(b) < fr.Bytes {
		return nil, fmt.Errorf("%w: short salt", errCorruptEntry)
	}
	if err := e.Salt.SetBytesCanonical(b[:fr.Bytes]); err != nil {
		return nil, fmt.Errorf("%w: salt: %w", errCorruptEntry, err)
	}
	b = b[fr.Bytes:]
	n, err := uvarint()
	if err != nil {
		return nil, err
	}
	if n > maxEntryValues {
		return nil, fmt.Errorf("%w: %d values", errCorruptEntry, n)
	}
	e.Values = make([]string, n)
	for i := range e.Values {
		l, err := uvarint()
		if err != nil {
			return nil, err
		}
		if l > uint64(len(b)) {
			return nil, fmt.Errorf("%w: value overruns entry", errCorruptEntry)
		}
		e.Values[i], b = string(b[:l]), b[l:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorruptEntry, len(b))
	}
	return &e, nil
}
