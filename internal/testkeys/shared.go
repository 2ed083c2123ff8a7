package testkeys

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/zkshare/zkshare/internal/logging"
)

// Shared is one key directory for a whole test package, made on first use
// (Dir) and removed by Cleanup from the package's TestMain.
type Shared struct {
	once    sync.Once
	dir     string
	cleanup func()
	err     error
}

// Dir returns the package's key directory, making it on the first call.
func (s *Shared) Dir(t testing.TB) string {
	t.Helper()
	s.once.Do(func() {
		logging.QuietGnark(slog.New(slog.DiscardHandler))
		s.dir, s.cleanup, s.err = Dir(context.Background())
	})
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.dir
}

// Cleanup removes the directory, if one was made.
func (s *Shared) Cleanup() {
	if s.cleanup != nil {
		s.cleanup()
	}
}
