package holder

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
)

// Audit openings: the ledger keeps a salted commitment per answered
// question; the holder keeps what opens it, listed by collection and by
// consumer, in log order.
func auditCollPrefix(collectionID []byte) []byte { return append([]byte("ao/c/"), collectionID...) }
func auditConsumerPrefix(consumer string) []byte { return []byte("ao/u/" + consumer + "\x00") }

// PutAuditOpening keeps the opening of the audit entry at a log index, for
// the collection's holder and for the consumer who asked. It is synced
// before it returns.
func (s *Store) PutAuditOpening(ctx context.Context, collectionID []byte, consumer string, logIndex uint64, opening []byte) error {
	if len(collectionID) == 0 || consumer == "" || strings.ContainsRune(consumer, 0) {
		return errors.New("audit opening: want a collection id and a consumer")
	}
	return s.write(func(txn *badger.Txn, _ Version) error {
		if err := txn.Set(binary.BigEndian.AppendUint64(auditCollPrefix(collectionID), logIndex), opening); err != nil {
			return err
		}
		return txn.Set(binary.BigEndian.AppendUint64(auditConsumerPrefix(consumer), logIndex), opening)
	})
}

// AuditOpenings lists openings of a collection's entries (consumer "") or
// of a consumer's (collectionID nil), oldest first, after log index after
// (0 for the start), at most limit.
func (s *Store) AuditOpenings(collectionID []byte, consumer string, after uint64, limit int) ([][]byte, error) {
	return s.auditOpenings(collectionID, consumer, after, limit, false)
}

// AuditOpeningsNewest lists the same openings newest first, before log
// index before (0 for the newest), at most limit: a page of the latest
// questions costs what it shows, however long the trail.
func (s *Store) AuditOpeningsNewest(collectionID []byte, consumer string, before uint64, limit int) ([][]byte, error) {
	return s.auditOpenings(collectionID, consumer, before, limit, true)
}

func (s *Store) auditOpenings(collectionID []byte, consumer string, from uint64, limit int, newest bool) ([][]byte, error) {
	var prefix []byte
	switch {
	case len(collectionID) > 0 && consumer == "":
		prefix = auditCollPrefix(collectionID)
	case len(collectionID) == 0 && consumer != "":
		prefix = auditConsumerPrefix(consumer)
	default:
		return nil, errors.New("audit openings: give a collection or a consumer")
	}
	// Oldest first: seek to from, skip from itself. Newest first: seek to
	// the last key below from (badger's reverse Seek finds the largest key
	// at or below the one given), or to the end.
	seek := from
	switch {
	case newest && from == 0:
		seek = math.MaxUint64
	case newest:
		seek = from - 1
	}
	var out [][]byte
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, Reverse: newest})
		defer it.Close()
		for it.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), seek)); it.Valid() && len(out) < limit; it.Next() {
			k := it.Item().Key()
			if len(k) != len(prefix)+8 {
				return fmt.Errorf("audit opening: malformed key %q", k)
			}
			if !newest && from > 0 && binary.BigEndian.Uint64(k[len(prefix):]) <= from {
				continue
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}
