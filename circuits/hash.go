package circuits

import (
	"github.com/zkshare/zkshare/zkhash"
)

// The native hashing lives in zkhash; these are the names the in-circuit
// twins (gadget.go) use for its widths and domain tags.
const (
	leafWidth  = zkhash.LeafWidth
	queryWidth = zkhash.QueryWidth
	keyWidth   = zkhash.KeyWidth
	leafInputs = zkhash.LeafInputs
)

var (
	tagLeaf    = zkhash.DomainTags().Leaf
	tagQuery   = zkhash.DomainTags().Query
	tagKey     = zkhash.DomainTags().Key
	tagPartial = zkhash.DomainTags().Partial
	tagNode    = zkhash.DomainTags().Node
)

func widePartialRounds(width int) int { return zkhash.PartialRounds(width) }
