package ledger_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

func attack15bID(p []byte) []byte { s := sha256.Sum256(p); return s[:] }

func (n *net) attack15bPast(h uint64) {
	n.t.Helper()
	for i := 0; n.l.Head().Height < h; i++ {
		n.join(fmt.Sprintf("fill%d-%d", h, i), zkv1.Role_ROLE_CONSUMER)
	}
}

// TestAttack15bRotatedKeyKeepsCeremonyPower: a participant rotates its
// ledger key (say, because the old one leaked); the ceremony opened
// before still takes receipts and attestations signed by the old key.
// Fixed after the second review: the old key no longer acts.
func TestAttack15bRotatedKeyKeepsCeremonyPower(t *testing.T) {
	n := newProdNet(t)
	org1, org2 := n.join("org1", zkv1.Role_ROLE_HOLDER), n.join("org2", zkv1.Role_ROLE_HOLDER)
	beacon := n.l.Head().Height + 12
	p := plan(n, beacon, []*ledger.Identity{org1, org2}, "subject")
	cid := attack15bID(p)
	n.must("admin", open(p))

	leaked := *org2 // the attacker's copy of org2's old key
	fresh, _ := ledger.NewIdentity("org2")
	n.must("org2", ledger.RotateKey("org2", fresh.Public()))
	n.ids["org2"] = fresh
	if k := n.l.State().Participants["org2"].Key; string(k) != string(fresh.Public()) {
		t.Fatal("rotation did not apply")
	}

	prev := cid
	for i := range 4 {
		signer := org1
		if i%2 == 1 {
			signer = &leaked // org2's turns, signed with the rotated-out key
		}
		r := receipt(signer, cid, uint32(i+1), prev, beacon)
		_, err := n.submit("org1", ledger.RecordContributionTx(r))
		if i == 1 {
			// Fixed: a rotation voids the participant's remaining steps.
			if !errors.Is(err, ledger.ErrUnauthenticated) {
				t.Fatalf("contribution 2 with org2's rotated-out key: %v", err)
			}
			if _, err := n.submit("org1", ledger.RecordContributionTx(receipt(fresh, cid, 2, prev, beacon))); !errors.Is(err, ledger.ErrUnauthenticated) {
				t.Fatalf("contribution 2 with org2's new key, not the plan's: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("contribution %d: %v", i+1, err)
		}
		prev = ledger.ReceiptHash(r)
	}
}

// TestAttack15bOneOperatorCeremony: on a single-node ledger (threshold 1)
// the operator's own two identities, admin and node, are "two distinct
// active participants": the operator alone runs the whole ceremony and
// registers CEREMONY keys it knows the toxic waste of. Nothing in the
// registry entry says that both contributors are one operator's.
func TestAttack15bOneOperatorCeremony(t *testing.T) {
	n := newProdNet(t)
	beacon := n.l.Head().Height + 8
	p := plan(n, beacon, []*ledger.Identity{n.admin, n.node}, "subject")
	cid := attack15bID(p)
	n.must("admin", open(p))
	prev := cid
	for i := range 4 {
		signer := []*ledger.Identity{n.admin, n.node}[i%2]
		r := receipt(signer, cid, uint32(i+1), prev, beacon)
		n.must("admin", ledger.RecordContributionTx(r))
		prev = ledger.ReceiptHash(r)
	}
	n.attack15bPast(beacon)
	key := &zkv1.CeremonyKey{Name: "subject", CircuitId: h32("subject"), VkSha256: h32("operator vk")}
	n.must("admin", ledger.AttestCeremonyKeysTx(attestation(n.admin, cid, prev, h32("anything"), key)))
	n.must("admin", ledger.AttestCeremonyKeysTx(attestation(n.node, cid, prev, h32("anything"), key)))
	n.must("admin", ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("subject"), Name: "subject", VkSha256: h32("operator vk"),
		Setup: zkv1.SetupKind_SETUP_KIND_CEREMONY, CeremonyId: cid, TranscriptHash: prev}))
	e, ok := n.l.State().CircuitVersion(h32("subject"), h32("operator vk"))
	if !ok || e.Setup != zkv1.SetupKind_SETUP_KIND_CEREMONY {
		t.Fatalf("entry %+v", e)
	}
	t.Logf("registered as CEREMONY keys, contributors %v, all of them one operator's identities (beacon %x was never checked)", e.Contributors, h32("anything")[:4])
}

// TestAttack15bRevokedAttesterCounts: a participant attests, is then
// revoked (found compromised); its attestation no longer counts, and the
// keys do not register (fixed after the second review).
func TestAttack15bRevokedAttesterCounts(t *testing.T) {
	n := newProdNet(t)
	org1, org2 := n.join("org1", zkv1.Role_ROLE_HOLDER), n.join("org2", zkv1.Role_ROLE_HOLDER)
	beacon := n.l.Head().Height + 8
	p := plan(n, beacon, []*ledger.Identity{org1, org2}, "subject")
	cid := attack15bID(p)
	n.must("admin", open(p))
	prev := cid
	for i := range 4 {
		r := receipt([]*ledger.Identity{org1, org2}[i%2], cid, uint32(i+1), prev, beacon)
		n.must("admin", ledger.RecordContributionTx(r))
		prev = ledger.ReceiptHash(r)
	}
	n.attack15bPast(beacon)
	key := &zkv1.CeremonyKey{Name: "subject", CircuitId: h32("subject"), VkSha256: h32("vk")}
	n.must("admin", ledger.AttestCeremonyKeysTx(attestation(org1, cid, prev, h32("b"), key)))
	n.must("admin", ledger.RevokeParticipant("org1"))
	n.must("admin", ledger.AttestCeremonyKeysTx(attestation(org2, cid, prev, h32("b"), key)))
	_, err := n.submit("admin", ledger.RegisterCircuit(&zkv1.RegisterCircuit{CircuitId: h32("subject"), Name: "subject", VkSha256: h32("vk"),
		Setup: zkv1.SetupKind_SETUP_KIND_CEREMONY, CeremonyId: cid, TranscriptHash: prev}))
	if !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), "no longer an active participant") {
		t.Fatalf("register after attester org1 was revoked: %v", err)
	}
}

// TestAttack15bNonCanonicalPlan: the ledger opens a plan whose JSON has
// duplicate, case-variant keys ("participants" then "Participants") and
// takes the last; a reader taking the first (or a person reading the top
// of the file) sees other participants. The ceremony tool reads it as the
// ledger does (same encoding/json), so this is about people and other
// tools, and about the ledger's reading being Go-json-specific.
func TestAttack15bNonCanonicalPlan(t *testing.T) {
	n := newProdNet(t)
	org1, org2 := n.join("org1", zkv1.Role_ROLE_HOLDER), n.join("org2", zkv1.Role_ROLE_HOLDER)
	honest := []*ledger.Identity{n.join("bank", zkv1.Role_ROLE_HOLDER), n.join("agency", zkv1.Role_ROLE_HOLDER)}
	beacon := n.l.Head().Height + 8
	pp := func(ids ...*ledger.Identity) string {
		var s []string
		for _, id := range ids {
			s = append(s, fmt.Sprintf(`{"id":%q,"public_key":%q}`, id.ID, hex.EncodeToString(id.Public())))
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	body := fmt.Sprintf(`{"genesis_hash":%q,"beacon_height":%d,"circuits":[{"name":"subject","circuit_id":%q}],"participants":%s,"unknown":1,"Participants":%s}`,
		hex.EncodeToString(n.l.State().GenesisHash), beacon, hex.EncodeToString(h32("subject")), pp(honest...), pp(org1, org2))
	n.must("admin", open([]byte(body)))
	c, _ := n.l.State().CeremonyOf(attack15bID([]byte(body)))
	var got []string
	for _, p := range c.Participants {
		got = append(got, p.ID)
	}
	t.Logf("plan lists %s first; the ledger recorded participants %v", "bank,agency", got)
}
