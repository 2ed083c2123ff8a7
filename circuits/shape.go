// Package circuits holds zkshare's gnark circuits and their native twins:
// the record commitment, the collection tree's nodes and paths, the encoded
// query and its hash, and the subject and exists statements.
//
// Every circuit has a fixed shape (the constants below) so that one set of
// keys serves every schema and query; what varies is witness data, bound by
// the public query hash.
package circuits

import "github.com/zkshare/zkshare/zkhash"

// The fixed shape of the subject and exists circuits. Changing any of these
// changes the circuit ids and forces new keys.
const (
	// MaxFields is the number of value slots in a record commitment.
	MaxFields = zkhash.MaxFields
	// MaxClauses is the number of predicate clauses a query may hold.
	MaxClauses = 8
	// MaxInValues is the most values one in(...) list may hold.
	MaxInValues = 8
	// PoolSize is the number of equality constants (==, !=, in, not in)
	// that one query may use across all of its clauses.
	PoolSize = 16
	// Depth is the deepest a leaf of the collection tree can sit
	// (zkhash.Depth).
	Depth = zkhash.Depth
	// SlotBits bounds every value slot (zkhash.SlotBits).
	SlotBits = zkhash.SlotBits
	// StringBits is the width of a string's digest.
	StringBits = 124
	// MaxWidth is the widest ordered (comparable) value.
	MaxWidth = 64

	// clauseBits is the size of one clause's header: field(4) op(2) string(1) shift(6).
	clauseBits = 13
	// headerBits covers all clause headers followed by all pool masks.
	headerBits = MaxClauses*clauseBits + MaxClauses*PoolSize
)

// Aggregate proofs: one chunk proof per region of the tree (tree.Regions),
// of at most AggChunkRows records and AggChunkInners inner nodes, and up to
// AggMaxChunks regions per collection. Regions are subtrees split in
// halves until they fit, so they are about half full to full: a collection
// of up to about AggMaxChunks*AggChunkRows*3/4 records (98k) fits. A chunk
// proof is about 692k constraints (about 1,150 per record row and 217 per
// inner node slot); the combining circuits cost about 500 constraints per
// chunk.
const (
	AggChunkRows   = 512
	AggChunkInners = 768
	AggMaxChunks   = 256
)
