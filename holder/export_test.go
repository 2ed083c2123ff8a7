package holder

// SetChunk sets how many records a commit writes per transaction, so tests
// can cross chunk boundaries with few records.
func SetChunk(s *Store, n int) { s.chunk = n }

// FreshSalts is freshSalts, so device tests salt readings as devices do.
var FreshSalts = freshSalts
