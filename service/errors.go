package service

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/prover"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/records"
)

// toConnect maps a domain error (the engine's kinds in node/errors.go,
// and those of the packages below it) to its Connect code, in one place. Errors
// of unknown kind become Internal with a generic message: their text could
// quote data the caller must not see. nil stays nil.
func toConnect(err error) error {
	var ce *connect.Error
	var syn *query.SyntaxError
	var typ *query.TypeError
	var fe *records.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return err
	// The cause of a cancellation is the caller's own: its wrapped text
	// (which step was running) is not.
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, context.DeadlineExceeded)
	case errors.Is(err, node.ErrInvalidArgument):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, node.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, node.ErrAlreadyExists):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, node.ErrPermissionDenied):
		return connect.NewError(connect.CodePermissionDenied, err)
	case errors.Is(err, node.ErrFailedPrecondition):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, node.ErrResourceExhausted):
		return connect.NewError(connect.CodeResourceExhausted, err)
	case errors.Is(err, node.ErrUnauthenticated):
		return connect.NewError(connect.CodeUnauthenticated, err)
	case errors.Is(err, node.ErrOutOfRange):
		return connect.NewError(connect.CodeOutOfRange, err)
	case errors.As(err, &syn), errors.As(err, &typ):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, records.ErrInvalidBatch), errors.As(err, &fe):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, holder.ErrNotFound), errors.Is(err, ledger.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, holder.ErrExists):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, prover.ErrBadAggregate):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, holder.ErrDeviceFed), errors.Is(err, holder.ErrNotDeviceFed), errors.Is(err, holder.ErrNotOpened), errors.Is(err, holder.ErrReadingConflict):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, holder.ErrOpeningMismatch):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, holder.ErrTooManyPending):
		return connect.NewError(connect.CodeResourceExhausted, err)
	case errors.Is(err, holder.ErrPresent):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, prover.ErrNoWitness), errors.Is(err, prover.ErrSmallGroup):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, ledger.ErrMalformed):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, ledger.ErrPermission):
		return connect.NewError(connect.CodePermissionDenied, err)
	case errors.Is(err, ledger.ErrRejected), errors.Is(err, ledger.ErrSequence):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, ledger.ErrUnauthenticated):
		return connect.NewError(connect.CodeUnauthenticated, err)
	case errors.Is(err, ledger.ErrClosed):
		return connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewError(connect.CodeInternal, &internalError{err})
}

// internalError shows the caller "internal error"; the logging interceptor
// logs its cause on the server.
type internalError struct{ cause error }

func (e *internalError) Error() string { return "internal error" }
func (e *internalError) Unwrap() error { return e.cause }
