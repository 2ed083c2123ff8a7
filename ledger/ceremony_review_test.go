package ledger_test

import (
	"errors"
	"testing"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// TestRefusedCeremonyTxLeavesNoTrace: a refused registration, receipt or
// attestation changes neither the registry, the ceremony, nor the
// sender's sequence (review of issue 15).
func TestRefusedCeremonyTxLeavesNoTrace(t *testing.T) {
	n := newProdNet(t)
	orgs := []*ledger.Identity{n.join("org1", zkv1.Role_ROLE_HOLDER), n.join("org2", zkv1.Role_ROLE_HOLDER)}
	beacon := n.l.Head().Height + 5
	p := plan(n, beacon, orgs, "subject")
	n.must("admin", open(p))
	before := n.l.State()
	cid := func() []byte {
		for _, c := range before.Ceremonies {
			return c.ID
		}
		return nil
	}()
	for _, tc := range []struct {
		name   string
		sender string
		tx     func(*zkv1.TxBody)
	}{
		{"ceremony keys of an unfinished ceremony", "admin", ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("subject"), Name: "subject", VkSha256: h32("v"), Setup: zkv1.SetupKind_SETUP_KIND_CEREMONY, CeremonyId: cid, TranscriptHash: h32("t")})},
		{"a huge verifying key", "admin", ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("subject"), Name: "subject", VkSha256: h32("v"), Vk: make([]byte, ledger.MaxVKBytes+1), Setup: zkv1.SetupKind_SETUP_KIND_CEREMONY, CeremonyId: cid})},
		{"development keys", "admin", ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("s"), Name: "s", VkSha256: h32("v"), Setup: zkv1.SetupKind_SETUP_KIND_DEV})},
		{"no setup kind", "admin", ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("s"), Name: "s", VkSha256: h32("v"), CeremonyId: cid})},
		{"a receipt out of turn", "org1", ledger.RecordContributionTx(receipt(orgs[1], cid, 1, cid, beacon))},
		{"an early attestation", "org1", ledger.AttestCeremonyKeysTx(attestation(orgs[0], cid, h32("t"), h32("b"), &zkv1.CeremonyKey{Name: "subject", CircuitId: h32("subject"), VkSha256: h32("v")}))},
	} {
		if _, err := n.submit(tc.sender, tc.tx); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	after := n.l.State()
	if len(after.Circuits) != len(before.Circuits) || after.Participants["admin"].Sequence != before.Participants["admin"].Sequence ||
		after.Participants["org1"].Sequence != before.Participants["org1"].Sequence || after.Height != before.Height {
		t.Fatal("a refused transaction changed the state")
	}
	if c, _ := after.CeremonyOf(cid); len(c.Contributed) != 0 || len(c.Attesters) != 0 {
		t.Fatal("a refused transaction changed the ceremony")
	}
}

// TestOneNamePerCircuitID: a circuit id keeps the name it was first
// registered under, so "the newest version of id" has one answer.
func TestOneNamePerCircuitID(t *testing.T) {
	admin, _ := ledger.NewIdentity("admin")
	node, _ := ledger.NewIdentity("node")
	st, err := genesis(t, admin, node).State()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	bc := ledger.BlockContext{Height: 1, TimeUnixMs: now.UnixMilli()}
	var errs []error
	for i, name := range []string{"subject", "exists", "subject"} {
		tx, err := ledger.NewTx(st.Chain(), admin, st.Participants["admin"].Sequence+1, now, ledger.RegisterCircuit(&zkv1.RegisterCircuit{
			CircuitId: h32("one id"), Name: name, VkSha256: h32(string(rune('a' + i))), Setup: zkv1.SetupKind_SETUP_KIND_DEV}))
		if err != nil {
			t.Fatal(err)
		}
		errs = append(errs, ledger.Apply(st, tx, bc))
	}
	if errs[0] != nil || !errors.Is(errs[1], ledger.ErrRejected) || errs[2] != nil {
		t.Fatalf("subject, exists, subject under one id: %v", errs)
	}
	if c, _ := st.LatestCircuit(h32("one id")); c.Name != "subject" || c.Version != 2 {
		t.Fatalf("latest: %+v", c)
	}
}
