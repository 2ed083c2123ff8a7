package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"

	"connectrpc.com/authn"
	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/node"
)

// authenticate resolves a bearer token, when there is one, to a ledger
// participant. A missing token is left to authorize (some procedures are
// public); a wrong one is rejected here, before the request is decoded.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return authn.NewMiddleware(func(ctx context.Context, r *http.Request) (any, error) {
		tok, ok := authn.BearerToken(r)
		if !ok {
			if r.Header.Get("Authorization") != "" {
				return nil, authn.Errorf("authorization header: want Bearer TOKEN")
			}
			return nil, nil
		}
		c, err := s.node.Authenticate(tok)
		if err != nil {
			return nil, authn.Errorf("%v", err)
		}
		return c, nil
	}).Wrap(next)
}

// public procedures need no token.
var public = map[string]bool{
	zksharev1connect.LedgerServiceGetCheckpointProcedure:     true,
	zksharev1connect.LedgerServiceGetAnchorProcedure:         true,
	zksharev1connect.LedgerServiceGetTransactionProcedure:    true,
	zksharev1connect.LedgerServiceListBlocksProcedure:        true,
	zksharev1connect.LedgerServiceWatchBlocksProcedure:       true,
	zksharev1connect.HolderServiceGetCollectionProcedure:     true,
	zksharev1connect.VerifierServiceVerifyProcedure:          true,
	zksharev1connect.VerifierServiceVerifyAggregateProcedure: true,

	// Anyone may check that two checkpoints are of one history.
	zksharev1connect.LedgerServiceGetConsistencyProofProcedure: true,
	// What a verifier reads of the ledger (verifier.Remote).
	zksharev1connect.LedgerServiceGetCircuitProcedure:         true,
	zksharev1connect.LedgerServiceGetCollectionStateProcedure: true,
	zksharev1connect.LedgerServiceListCircuitsProcedure:       true,
	zksharev1connect.LedgerServiceGetCeremonyProcedure:        true,
	// A contribution receipt carries its contributor's signature, checked
	// by the ledger against the contributor's registered key.
	zksharev1connect.LedgerServiceRecordContributionProcedure: true,
	zksharev1connect.LedgerServiceAttestCeremonyKeysProcedure: true,
	// Each attestation carries its device's signature, checked against the
	// device's registered key before anything is written.
	zksharev1connect.DeviceServiceSubmitReadingsProcedure: true,
	zksharev1connect.DeviceServiceListDevicesProcedure:    true,
}

// roles says who may call the other procedures. Whether this node may act
// for the caller (sign as its holder or admin) is the engine's rule.
var roles = map[string][]zkv1.Role{
	zksharev1connect.HolderServiceCreateCollectionProcedure:   {zkv1.Role_ROLE_HOLDER},
	zksharev1connect.HolderServiceCommitRecordsProcedure:      {zkv1.Role_ROLE_HOLDER},
	zksharev1connect.HolderServiceDeleteRecordsProcedure:      {zkv1.Role_ROLE_HOLDER},
	zksharev1connect.HolderServiceUpdateRecordsProcedure:      {zkv1.Role_ROLE_HOLDER},
	zksharev1connect.HolderServiceSetPolicyProcedure:          {zkv1.Role_ROLE_HOLDER},
	zksharev1connect.HolderServiceGetPolicyProcedure:          {zkv1.Role_ROLE_HOLDER},
	zksharev1connect.HolderServiceIssueReceiptProcedure:       {zkv1.Role_ROLE_HOLDER},
	zksharev1connect.HolderServiceConfirmAnchorProcedure:      {zkv1.Role_ROLE_HOLDER},
	zksharev1connect.HolderServiceProveProcedure:              {zkv1.Role_ROLE_CONSUMER},
	zksharev1connect.HolderServiceProveAggregateProcedure:     {zkv1.Role_ROLE_CONSUMER},
	zksharev1connect.LedgerServiceListAuditEntriesProcedure:   {zkv1.Role_ROLE_HOLDER, zkv1.Role_ROLE_CONSUMER},
	zksharev1connect.AdminServiceRegisterParticipantProcedure: {zkv1.Role_ROLE_ADMIN},
	zksharev1connect.AdminServiceProposeProcedure:             {zkv1.Role_ROLE_ADMIN},
	zksharev1connect.AdminServiceApproveProcedure:             {zkv1.Role_ROLE_ADMIN},
	// Open proposals are on the ledger anyway; a holder follows its own.
	zksharev1connect.AdminServiceListProposalsProcedure:   {zkv1.Role_ROLE_ADMIN, zkv1.Role_ROLE_HOLDER},
	zksharev1connect.HolderServiceSetConfirmersProcedure:  {zkv1.Role_ROLE_HOLDER},
	zksharev1connect.HolderServiceRegisterDeviceProcedure: {zkv1.Role_ROLE_HOLDER},
	zksharev1connect.HolderServiceRevokeDeviceProcedure:   {zkv1.Role_ROLE_HOLDER},
	zksharev1connect.AdminServiceEndorseDeviceProcedure:   {zkv1.Role_ROLE_ADMIN},
	// A backup holds every record and key of the node: its admin's only.
	zksharev1connect.AdminServiceBackupProcedure: {zkv1.Role_ROLE_ADMIN},
}

// callerOf is the request's authenticated caller; the zero Caller (no
// id) when it sent no token.
func callerOf(ctx context.Context) node.Caller {
	c, _ := authn.GetInfo(ctx).(node.Caller)
	return c
}

// authorize checks the caller's role for every procedure that needs one,
// before the request is decoded (a request gate: refused calls never reach
// the interceptors).
func authorize(ctx context.Context, spec connect.Spec, _ connect.Peer, _ http.Header) (context.Context, error) {
	if public[spec.Procedure] {
		return ctx, nil
	}
	c := callerOf(ctx)
	if c.ID == "" {
		return ctx, connect.NewError(connect.CodeUnauthenticated, errors.New("this call needs a bearer token"))
	}
	if slices.Contains(roles[spec.Procedure], c.Role) {
		return ctx, nil // the engine checks that this node acts for c
	}
	return ctx, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s %q may not call %s", strings.ToLower(strings.TrimPrefix(c.Role.String(), "ROLE_")), c.ID, spec.Procedure))
}

// recovered answers a handler panic, unary or streaming, with Internal
// "internal error", and logs it with the stack (never the request).
func recovered(log *slog.Logger) connect.HandlerOption {
	return connect.WithRecover(func(ctx context.Context, spec connect.Spec, _ http.Header, r any) error {
		log.ErrorContext(ctx, "handler panic", slog.String("procedure", spec.Procedure), slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	})
}
