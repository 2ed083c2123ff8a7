package service_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/zkshare/zkshare/client"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/gen/zkshare/v1/zksharev1connect"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/service"
)

// TestCodesOverConnectAndGRPC: the same calls get the same codes (and
// messages) over the Connect protocol and gRPC: authentication and
// authorisation (before decoding, and the engine's acts-for rule), and the
// engine's error kinds mapped in service/errors.go, unary and streaming.
func TestCodesOverConnectAndGRPC(t *testing.T) {
	n := startNode(t, service.Config{})
	n.register("bank", zkv1.Role_ROLE_CONSUMER)
	n.register("mallory", zkv1.Role_ROLE_HOLDER)
	n.register("admin2", zkv1.Role_ROLE_ADMIN)
	ctx := t.Context()
	create := &zkv1.CreateCollectionRequest{Schema: []byte(schema), Name: "people"}
	for _, p := range protocols[:2] {
		t.Run(p.name, func(t *testing.T) {
			n.opts = p.opts
			t.Cleanup(func() { n.opts = nil })
			forged := zksharev1connect.NewHolderServiceClient(client.HTTPClient(), n.url, append([]connect.ClientOption{connect.WithInterceptors(client.Bearer("not-a-token"))}, p.opts...)...)
			commit := func(id string, msgs ...*zkv1.CommitRecordsRequest) error {
				stream, err := n.holder(id).CommitRecords(ctx)
				if err != nil {
					return err
				}
				for _, m := range msgs {
					if err := stream.Send(m); err != nil {
						break
					}
				}
				_, err = stream.CloseAndReceive()
				return err
			}
			for _, tc := range []struct {
				name string
				call func() error
				code connect.Code
				msg  string
			}{
				{"no token", func() error { _, err := n.holder("").CreateCollection(ctx, create); return err }, connect.CodeUnauthenticated, "needs a bearer token"},
				{"unknown token", func() error { _, err := forged.CreateCollection(ctx, create); return err }, connect.CodeUnauthenticated, "unknown token"},
				{"consumer creating a collection", func() error { _, err := n.holder("bank").CreateCollection(ctx, create); return err }, connect.CodePermissionDenied, `consumer "bank" may not call`},
				{"holder proving", func() error {
					_, err := n.holder(node.HolderID).Prove(ctx, &zkv1.ProveRequest{Collection: "people"})
					return err
				}, connect.CodePermissionDenied, "may not call"},
				{"another holder acting as this node's", func() error { _, err := n.holder("mallory").CreateCollection(ctx, create); return err }, connect.CodePermissionDenied, `this node acts for holder "holder"`},
				{"another admin acting as this node's", func() error {
					_, err := n.admin("admin2").Propose(ctx, &zkv1.ProposeRequest{Action: ledger.ActRevokeParticipant("bank")})
					return err
				}, connect.CodePermissionDenied, `acts for admin "admin"`},
				{"streaming: another holder committing", func() error {
					return commit("mallory", &zkv1.CommitRecordsRequest{Collection: "people", Records: people(5, 100)[:1]})
				}, connect.CodePermissionDenied, `"mallory"`},
				{"streaming: no collection", func() error { return commit(node.HolderID, &zkv1.CommitRecordsRequest{}) }, connect.CodeInvalidArgument, "collection"},
				{"invalid argument", func() error {
					_, err := n.ledgerClient("").GetTransaction(ctx, &zkv1.GetTransactionRequest{Hash: []byte{1}})
					return err
				}, connect.CodeInvalidArgument, "hash: want 32 bytes"},
				{"not found", func() error {
					_, err := n.ledgerClient("").GetCircuit(ctx, &zkv1.GetCircuitRequest{CircuitId: make([]byte, 32)})
					return err
				}, connect.CodeNotFound, "is not registered"},
				{"out of range", func() error {
					_, err := n.ledgerClient("").GetConsistencyProof(ctx, &zkv1.GetConsistencyProofRequest{ToSize: 1 << 62})
					return err
				}, connect.CodeOutOfRange, "beyond the log"},
				{"already exists", func() error {
					_, err := n.admin(node.AdminID).RegisterParticipant(ctx, &zkv1.RegisterParticipantRequest{Id: node.HolderID, Role: zkv1.Role_ROLE_HOLDER})
					return err
				}, connect.CodeAlreadyExists, "own identity"},
			} {
				err := tc.call()
				if connect.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("%s: %v, want %v with %q", tc.name, err, tc.code, tc.msg)
				}
			}
		})
	}
}
