package node_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/internal/testkeys"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/records"
)

// keys is the package's one key directory (linked from ZKSHARE_TEST_KEYS
// when set).
var pkgKeys testkeys.Shared

func sharedKeys(t testing.TB) string { return pkgKeys.Dir(t) }

func TestMain(m *testing.M) {
	code := m.Run()
	pkgKeys.Cleanup()
	os.Exit(code)
}

// open opens a node engine on data (a new one when data is "").
func open(t *testing.T, data string) *node.Node {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	n, err := node.Open(t.Context(), node.Config{Data: data, Keys: sharedKeys(t), ProveConcurrency: 1, ProveQueue: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func token(t *testing.T, data, id string) string {
	t.Helper()
	b, err := os.ReadFile(node.TokenPath(data, id))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

var (
	holderC = node.Caller{ID: node.HolderID, Role: zkv1.Role_ROLE_HOLDER}
	adminC  = node.Caller{ID: node.AdminID, Role: zkv1.Role_ROLE_ADMIN}
)

const schema = `{"name":"people","key":"id","fields":[{"name":"income","type":"uint","width":32},{"name":"age","type":"uint","width":8}]}`

// TestInitThenOpen: `ledger init` (Init) then `serve` (Open) on one
// directory is one bootstrap, not two; a second Init is refused; the
// node reopens after a restart and its tokens authenticate.
func TestInitThenOpen(t *testing.T) {
	data := t.TempDir()
	if err := node.Init(data, "test.example/ledger", true, nil); err != nil {
		t.Fatal(err)
	}
	if err := node.Init(data, "", true, nil); !errors.Is(err, node.ErrInitialized) {
		t.Fatalf("second Init: %v, want ErrInitialized", err)
	}
	n := open(t, data)
	if got := n.Ledger().Origin(); got != "test.example/ledger" {
		t.Fatalf("origin %q: Open bootstrapped again", got)
	}
	circuits := len(n.Ledger().State().Circuits)
	if circuits == 0 {
		t.Fatal("no circuit pinned")
	}
	for id, want := range map[string]zkv1.Role{node.AdminID: zkv1.Role_ROLE_ADMIN, node.HolderID: zkv1.Role_ROLE_HOLDER} {
		c, err := n.Authenticate(token(t, data, id))
		if err != nil || c.ID != id || c.Role != want {
			t.Fatalf("%s's token: %+v %v", id, c, err)
		}
	}
	if _, err := n.Authenticate("zks_nope"); !errors.Is(err, node.ErrUnauthenticated) {
		t.Fatalf("unknown token: %v", err)
	}
	height := n.Ledger().Head().Height
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = open(t, data)
	if got := n.Ledger().Head().Height; got != height || len(n.Ledger().State().Circuits) != circuits {
		t.Fatalf("after restart: height %d (was %d), %d circuits (was %d)", got, height, len(n.Ledger().State().Circuits), circuits)
	}
}

// TestCommitAnchorOrdering: a commit anchors its root, each in sequence;
// a bad update or commit writes nothing; every change
// survives a restart with its anchor.
func TestCommitAnchorOrdering(t *testing.T) {
	ctx := t.Context()
	data := t.TempDir()
	n := open(t, data)
	if _, _, err := n.CreateCollection(ctx, node.Caller{ID: "other", Role: zkv1.Role_ROLE_HOLDER}, node.NewCollection{Schema: []byte(schema)}); !errors.Is(err, node.ErrPermissionDenied) {
		t.Fatalf("create by another holder: %v", err)
	}
	info, tx, err := n.CreateCollection(ctx, holderC, node.NewCollection{Schema: []byte(schema)})
	if err != nil || info.GetName() != "holder/people" || len(tx) != 32 {
		t.Fatalf("create: %v %v", info, err)
	}
	if _, _, err := n.CreateCollection(ctx, holderC, node.NewCollection{Schema: []byte(schema)}); !errors.Is(err, node.ErrAlreadyExists) {
		t.Fatalf("create twice: %v", err)
	}
	var ia *node.InvalidArgumentError
	if _, err := n.Commit(ctx, holderC, "people", nil); !errors.As(err, &ia) || ia.Field != "records" {
		t.Fatalf("empty commit: %v", err)
	}
	recs := []records.Record{{Key: "a", Values: []string{"10", "20"}}, {Key: "b", Values: []string{"30", "40"}}}
	c1, err := n.Commit(ctx, holderC, "people", recs)
	if err != nil || c1.Inserted != 2 || c1.Count != 2 {
		t.Fatalf("commit: %+v %v", c1, err)
	}
	lc := n.Ledger().State().Collections[hexID("holder/people")]
	if lc.Last == nil || !bytes.Equal(lc.Last.Root, c1.Root) || !bytes.Equal(lc.Last.TxHash, c1.Anchor.Hash[:]) {
		t.Fatal("the committed root is not the collection's last anchor")
	}
	// The same records again are new versions (fresh salts): a new root,
	// anchored next in sequence.
	c2, err := n.Commit(ctx, holderC, "people", recs)
	if err != nil || c2.Updated != 2 || bytes.Equal(c2.Root, c1.Root) {
		t.Fatalf("the same records again: %+v %v", c2, err)
	}
	if lc := n.Ledger().State().Collections[hexID("holder/people")]; lc.Last.Sequence != 2 || !bytes.Equal(lc.Last.TxHash, c2.Anchor.Hash[:]) {
		t.Fatalf("second anchor: sequence %d", lc.Last.Sequence)
	}
	if _, err := n.Update(ctx, holderC, "people", []records.Record{{Key: "a", Values: []string{"1", "2"}}, {Key: "zz", Values: []string{"1", "2"}}}); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("update of an unknown key: %v", err)
	}
	if _, err := n.Commit(ctx, holderC, "people", []records.Record{{Key: "c", Values: []string{"-1", "2"}}}); err == nil {
		t.Fatal("a bad record was committed")
	}
	d, err := n.Delete(ctx, holderC, "people", []string{"b"})
	if err != nil || d.Deleted != 1 || d.Count != 1 {
		t.Fatalf("delete: %+v %v", d, err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = open(t, data)
	got, err := n.Collection(ctx, holderC, "people")
	if err != nil || got.GetRecordCount() != 1 || !bytes.Equal(got.GetRoot(), d.Root) {
		t.Fatalf("after restart: %v %v", got, err)
	}
	if lc := n.Ledger().State().Collections[hexID("holder/people")]; !bytes.Equal(lc.Last.Root, d.Root) {
		t.Fatal("after restart the last anchor is not the acknowledged root")
	}
}

func hexID(name string) string {
	id := records.CollectionID(name)
	b := id.Bytes()
	return hex.EncodeToString(b[:])
}

// TestPolicyAndNames: names are qualified with the node's holder; a policy
// is checked against the schema and the ledger's consumers; without a
// matching rule a consumer is refused before any proving.
func TestPolicyAndNames(t *testing.T) {
	ctx := t.Context()
	n := open(t, "")
	if got := n.Qualify("people"); got != "holder/people" {
		t.Fatalf("Qualify: %q", got)
	}
	var ia *node.InvalidArgumentError
	if _, _, err := n.CreateCollection(ctx, holderC, node.NewCollection{Name: "someone/people", Schema: []byte(schema)}); !errors.As(err, &ia) || ia.Field != "name" {
		t.Fatalf("create another holder's name: %v", err)
	}
	if _, _, err := n.CreateCollection(ctx, holderC, node.NewCollection{Schema: []byte(schema)}); err != nil {
		t.Fatal(err)
	}
	bank, _ := ledger.NewIdentity("bank")
	reg, err := n.RegisterParticipant(ctx, adminC, "bank", zkv1.Role_ROLE_CONSUMER, bank.Public())
	if err != nil || reg.Pending || reg.Tx == nil {
		t.Fatalf("register: %+v %v", reg, err)
	}
	if c, err := n.Authenticate(reg.Token); err != nil || c.ID != "bank" || c.Role != zkv1.Role_ROLE_CONSUMER {
		t.Fatalf("bank's token: %+v %v", c, err)
	}
	bankC := node.Caller{ID: "bank", Role: zkv1.Role_ROLE_CONSUMER}
	for _, tc := range []struct {
		rule  *zkv1.PolicyRule
		field string
	}{
		{&zkv1.PolicyRule{Consumer: "nobody", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT}}, "policy.rules[0].consumer"},
		{&zkv1.PolicyRule{Consumer: "bank", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_SUBJECT}, Templates: []string{"salary <="}}, "policy.rules[0].templates"},
		{&zkv1.PolicyRule{Consumer: "bank", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_AGGREGATE}}, "policy.rules[0]"},
	} {
		err := n.SetPolicy(ctx, holderC, "people", &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{tc.rule}})
		if !errors.As(err, &ia) || ia.Field != tc.field {
			t.Errorf("policy %v: %v, want an invalid %s", tc.rule, err, tc.field)
		}
	}
	if err := n.SetPolicy(ctx, bankC, "people", &zkv1.AccessPolicy{}); !errors.Is(err, node.ErrPermissionDenied) {
		t.Fatalf("a consumer set a policy: %v", err)
	}
	nonce := make([]byte, 32)
	nonce[31] = 1
	q := node.Question{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_EXISTS, Query: "age >= 65", Nonce: nonce}
	if _, err := n.Prove(ctx, bankC, q); !errors.Is(err, node.ErrPermissionDenied) {
		t.Fatalf("prove without a policy: %v", err)
	}
	pol := &zkv1.AccessPolicy{Rules: []*zkv1.PolicyRule{{Consumer: "bank", Kinds: []zkv1.StatementKind{zkv1.StatementKind_STATEMENT_KIND_EXISTS}, Templates: []string{"income <="}, RatePerMinute: 1}}}
	if err := n.SetPolicy(ctx, holderC, "people", pol); err != nil {
		t.Fatal(err)
	}
	if got, err := n.Policy(ctx, holderC, "holder/people"); err != nil || len(got.GetRules()) != 1 {
		t.Fatalf("policy: %v %v", got, err)
	}
	if _, err := n.Prove(ctx, bankC, q); !errors.Is(err, node.ErrPermissionDenied) {
		t.Fatalf("a clause the policy does not admit: %v", err)
	}
	// Subject statements need a blind; an exists statement names no subject.
	sq := node.Question{Collection: "people", Kind: zkv1.StatementKind_STATEMENT_KIND_SUBJECT, Subject: "a", Query: "income <= 5", Nonce: nonce}
	if _, err := n.Prove(ctx, bankC, sq); !errors.As(err, &ia) || ia.Field != "blind" {
		t.Fatalf("subject without a blind: %v", err)
	}
	// The audit list is a consumer's own.
	if _, err := n.AuditEntries(ctx, bankC, node.AuditQuery{Consumer: "someone"}); !errors.Is(err, node.ErrPermissionDenied) {
		t.Fatalf("another consumer's audit entries: %v", err)
	}
}

// TestGovernanceRules: tokens go with registrations only; only the node's
// own admin signs as admin.
func TestGovernanceRules(t *testing.T) {
	ctx := t.Context()
	n := open(t, "")
	st := n.Ledger().State()
	for _, id := range []string{node.HolderID, node.AdminID, node.NodeID} {
		p := st.Participants[id]
		if _, err := n.RegisterParticipant(ctx, adminC, id, p.Role, p.Key); !errors.Is(err, node.ErrAlreadyExists) {
			t.Errorf("register own %q: %v, want ErrAlreadyExists", id, err)
		}
	}
	other, _ := ledger.NewIdentity("x")
	if _, err := n.RegisterParticipant(ctx, node.Caller{ID: "gov2", Role: zkv1.Role_ROLE_ADMIN}, "x", zkv1.Role_ROLE_CONSUMER, other.Public()); !errors.Is(err, node.ErrPermissionDenied) {
		t.Fatalf("another admin through this node: %v", err)
	}
	var ia *node.InvalidArgumentError
	if _, _, err := n.Propose(ctx, adminC, &zkv1.GovernanceAction{}); !errors.As(err, &ia) || ia.Field != "action" {
		t.Fatalf("empty action: %v", err)
	}
	if _, err := n.Approve(ctx, adminC, make([]byte, 32)); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("approve of no proposal: %v", err)
	}
	p, err := n.ListProposals(ctx)
	if err != nil || p.Needed != 1 || len(p.Open) != 0 {
		t.Fatalf("proposals: %+v %v", p, err)
	}
}
