package service

import (
	"errors"
	"fmt"
	"testing"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/node"
)

// TestToConnect: each engine error kind has its Connect code, wrapped or
// not; an error of no known kind is Internal and says nothing of its cause.
func TestToConnect(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want connect.Code
	}{
		{&node.InvalidArgumentError{Field: "records", Reason: "none sent"}, connect.CodeInvalidArgument},
		{fmt.Errorf("commit: %w", node.ErrNotFound), connect.CodeNotFound},
		{node.ErrAlreadyExists, connect.CodeAlreadyExists},
		{node.ErrPermissionDenied, connect.CodePermissionDenied},
		{fmt.Errorf("records committed but not anchored: %w", node.ErrFailedPrecondition), connect.CodeFailedPrecondition},
		{node.ErrResourceExhausted, connect.CodeResourceExhausted},
		{node.ErrUnauthenticated, connect.CodeUnauthenticated},
		{fmt.Errorf("proof: %w", node.ErrOutOfRange), connect.CodeOutOfRange},
		{fmt.Errorf("collection c: %w", holder.ErrPresent), connect.CodeFailedPrecondition},
	} {
		if got := connect.CodeOf(toConnect(tc.err)); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.err, got, tc.want)
		}
	}
	err := toConnect(errors.New("salt 0xdeadbeef"))
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeInternal || ce.Message() != "internal error" {
		t.Fatalf("unknown error: %v", err)
	}
	if got := toConnect(&node.InvalidArgumentError{Field: "records", Reason: "none sent"}); !errors.As(got, &ce) || ce.Message() != "records: none sent" {
		t.Fatalf("an invalid argument's message names its field: %v", got)
	}
}
