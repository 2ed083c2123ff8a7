package node

import (
	"errors"
	"fmt"
)

// Kinds of engine errors. The service maps each to one Connect code (in
// service/errors.go); a caller tests for them with errors.Is.
var (
	// ErrInvalidArgument: the request is malformed; its message names the
	// field (an *InvalidArgumentError). Fix the request, do not retry it.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotFound: the collection, record, proposal or participant named
	// does not exist (here, or on the ledger).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: the thing to create is there already.
	ErrAlreadyExists = errors.New("already exists")
	// ErrPermissionDenied: the caller may not do this, here or at all
	// (another holder's node, an access policy without a matching rule).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrFailedPrecondition: the node's state does not allow it now (a root
	// not anchored yet, an anchor awaiting confirmations, no admin key);
	// the message says what has to change first.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrResourceExhausted: a queue or rate limit is full: retry later.
	ErrResourceExhausted = errors.New("resource exhausted")
	// ErrUnauthenticated: no such token, or its participant is not active.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrOutOfRange: the ledger is not that far yet (a log size, a height);
	// retry once it is.
	ErrOutOfRange = errors.New("out of range")
)

// InvalidArgumentError is a malformed request, naming the field at fault.
type InvalidArgumentError struct {
	Field  string
	Reason string
}

func (e *InvalidArgumentError) Error() string { return e.Field + ": " + e.Reason }

// Is makes errors.Is(err, ErrInvalidArgument) true.
func (e *InvalidArgumentError) Is(target error) bool { return target == ErrInvalidArgument }

// invalid builds an *InvalidArgumentError.
func invalid(field, format string, args ...any) error {
	return &InvalidArgumentError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// kindError is an error of one kind whose message is its own (the kind's
// name is not appended: the message is what a caller reads).
type kindError struct {
	kind  error
	msg   string
	cause error
}

func (e *kindError) Error() string {
	if e.cause != nil {
		return e.msg + ": " + e.cause.Error()
	}
	return e.msg
}
func (e *kindError) Is(target error) bool { return target == e.kind }
func (e *kindError) Unwrap() error        { return e.cause }

// errorf builds an error of kind with a formatted message.
func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
