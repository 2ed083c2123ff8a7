package main

import (
	"fmt"
	"io"
	"sync"
)

// stickyWriter is the stdout run hands a command: it keeps the first write
// error (and fails every later write with it), and run returns that error
// when the command has otherwise succeeded, so output lost to a full disk
// or a closed pipe fails the command even where a print is not checked.
type stickyWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// Err is the first write error, if any.
func (s *stickyWriter) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// fprintf, fprintln and fprint print a command's output or diagnostics
// without checking each write: a write error on stdout is kept by the
// stickyWriter run wraps it in, and returned when the command ends; one on
// stderr (diagnostics and progress) has nowhere to be reported, and does
// not fail a command whose work is done.
func fprintf(w io.Writer, format string, a ...any) { _, _ = fmt.Fprintf(w, format, a...) }

func fprintln(w io.Writer, a ...any) { _, _ = fmt.Fprintln(w, a...) }

func fprint(w io.Writer, a ...any) { _, _ = fmt.Fprint(w, a...) }
