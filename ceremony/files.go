package ceremony

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// createFile writes path atomically (a temporary file in the same
// directory, synced, then linked into place, the directory synced), and
// fails with an error wrapping os.ErrExist if path exists: a link never
// replaces a file.
func createFile(path string, b []byte) error {
	tmp, err := writeTemp(path, b)
	if err != nil {
		return err
	}
	err = os.Link(tmp, path)
	err = errors.Join(err, os.Remove(tmp))
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func writeTemp(path string, b []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return "", err
	}
	if _, err := f.Write(b); err != nil {
		return "", errors.Join(fmt.Errorf("write %s: %w", path, err), f.Close(), os.Remove(f.Name()))
	}
	if err := f.Sync(); err != nil {
		return "", errors.Join(err, f.Close(), os.Remove(f.Name()))
	}
	if err := f.Close(); err != nil {
		return "", errors.Join(err, os.Remove(f.Name()))
	}
	// Ceremony files are public: every organisation reads them.
	if err := os.Chmod(f.Name(), 0o644); err != nil { //nolint:gosec // G302: see above
		return "", errors.Join(err, os.Remove(f.Name()))
	}
	return f.Name(), nil
}

// writeNew writes a file that is new in a directory not yet visible (a
// contribution being assembled): synced, no rename needed.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644) //nolint:gosec // G302: ceremony files are public
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", path, err), f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck // read-only
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d expected", path, st.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes", path, limit)
	}
	return b, nil
}

// readExact reads a file that must be exactly size bytes: the size is
// checked before anything is allocated or decoded.
func readExact(path string, size int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck // read-only
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", filepath.Base(path))
	}
	if st.Size() != size {
		return nil, fmt.Errorf("%s: %d bytes, want %d", filepath.Base(path), st.Size(), size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	return b, nil
}
