package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/keys"
	"github.com/zkshare/zkshare/ledger"
	"google.golang.org/protobuf/encoding/protojson"
)

// Governance from the command line: a node's admin proposes, approves and
// lists M-of-N proposals; a holder proposes its collection's confirmers.

func cmdGovernancePropose(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("governance propose", stderr)
	r := remoteFlags(f)
	register := f.String("register", "", "register a participant with this id (with --role and --public-key, or a new key written to --out)")
	role := f.String("role", "consumer", "with --register: admin, holder, consumer, device or validator")
	pub := f.String("public-key", "", "with --register or --rotate: the participant's Ed25519 public key (hex)")
	out := f.String("out", "", "with --register and no --public-key: write the new identity (private key) here (default: ID.json)")
	revoke := f.String("revoke", "", "revoke the participant with this id")
	rotate := f.String("rotate", "", "give the participant with this id the key --public-key")
	consensus := f.String("consensus-key", "", "with --register --role validator under a consortium: its CometBFT (consensus) Ed25519 public key (hex)")
	rotateConsensus := f.String("rotate-consensus", "", "give the validator with this id the consensus key --consensus-key")
	circuit := f.String("circuit", "", "pin the circuit of this name from --keys (a new version, when the ledger has another)")
	retire := f.String("retire-circuit", "", "retire the registered circuit version with this verifying key SHA-256 (hex): its bundles stop verifying")
	keyDir := f.String("keys", envOr("ZKSHARE_KEYS", "keys.d"), "with --circuit: the circuit key directory")
	asJSON := f.Bool("json", false, "print the proposal's status as JSON")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	chosen := 0
	for _, v := range []string{*register, *revoke, *rotate, *rotateConsensus, *circuit, *retire} {
		if v != "" {
			chosen++
		}
	}
	if !r.on() || chosen != 1 {
		return errors.New("governance propose: want --server, --token-file (the node admin's) and one of --register, --revoke, --rotate, --rotate-consensus, --circuit or --retire-circuit")
	}
	var action *zkv1.GovernanceAction
	var ident *ledger.Identity
	switch {
	case *register != "":
		rv, ok := zkv1.Role_value["ROLE_"+strings.ToUpper(*role)]
		if !ok || rv == 0 {
			return fmt.Errorf("--role %q: want admin, holder, consumer, device or validator", *role)
		}
		key, err := publicKeyFlag(*pub)
		if err != nil && *pub != "" {
			return err
		}
		if *pub == "" {
			if ident, err = ledger.NewIdentity(*register); err != nil {
				return err
			}
			key = ident.Public()
		}
		action = ledger.ActRegisterParticipant(*register, zkv1.Role(rv), key)
		if *consensus != "" {
			ck, err := publicKeyFlag(*consensus)
			if err != nil {
				return fmt.Errorf("--consensus-key: %w", err)
			}
			action.GetRegisterParticipant().ConsensusPublicKey = ck
		}
	case *revoke != "":
		action = ledger.ActRevokeParticipant(*revoke)
	case *rotate != "":
		key, err := publicKeyFlag(*pub)
		if err != nil {
			return err
		}
		action = ledger.ActRotateKey(*rotate, key)
	case *rotateConsensus != "":
		ck, err := publicKeyFlag(*consensus)
		if err != nil {
			return fmt.Errorf("--consensus-key: %w", err)
		}
		action = ledger.ActRotateConsensusKey(*rotateConsensus, ck)
	case *circuit != "":
		rc, err := keys.Registration(*keyDir, *circuit)
		if err != nil {
			return err
		}
		action = ledger.ActRegisterCircuit(rc)
	case *retire != "":
		a, err := retireAction(ctx, r, *retire)
		if err != nil {
			return err
		}
		action = a
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	resp, err := c.Propose(ctx, &zkv1.ProposeRequest{Action: action})
	if err != nil {
		return fmt.Errorf("governance propose: %w", err)
	}
	if ident != nil {
		if *out == "" {
			*out = ident.ID + ".json"
		}
		if err := ident.Save(*out); err != nil {
			return err
		}
		fprintf(stderr, "%s's identity (private key) in %s\n", ident.ID, *out)
	}
	if *asJSON {
		return printJSON(stdout, map[string]any{"status": statusJSON(resp.GetStatus()), "token": resp.GetToken()})
	}
	printStatus(stdout, resp.GetStatus())
	if resp.GetToken() != "" {
		fprintf(stdout, "token: %s\n", resp.GetToken())
	}
	return nil
}

// publicKeyFlag decodes --public-key.
func publicKeyFlag(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("--public-key: want a 32-byte Ed25519 public key in hex (64 digits)")
	}
	return b, nil
}

func cmdGovernanceApprove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("governance approve", stderr)
	r := remoteFlags(f)
	asJSON := f.Bool("json", false, "print the proposal's status as JSON")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() || f.NArg() != 1 {
		return errors.New("governance approve: want --server, --token-file (the node admin's) and one PROPOSAL-ID (hex, from `governance list`)")
	}
	id, err := hex.DecodeString(f.Arg(0))
	if err != nil || len(id) != 32 {
		return fmt.Errorf("governance approve: %q: want a proposal id of 64 hex digits", f.Arg(0))
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	resp, err := c.Approve(ctx, id)
	if err != nil {
		return fmt.Errorf("governance approve: %w", err)
	}
	if *asJSON {
		return printJSON(stdout, statusJSON(resp.GetStatus()))
	}
	printStatus(stdout, resp.GetStatus())
	return nil
}

func cmdGovernanceList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("governance list", stderr)
	r := remoteFlags(f)
	asJSON := f.Bool("json", false, "one JSON object per proposal")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() {
		return errors.New("governance list: want --server and --token-file (an admin's or a holder's)")
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	resp, err := c.ListProposals(ctx)
	if err != nil {
		return fmt.Errorf("governance list: %w", err)
	}
	if *asJSON {
		for _, p := range resp.GetProposals() {
			action, _ := protojson.Marshal(p.GetAction())
			if err := printJSON(stdout, map[string]any{"id": hex.EncodeToString(p.GetId()), "kind": p.GetKind(), "action": json.RawMessage(action),
				"proposer": p.GetProposer(), "height": p.GetHeight(), "expires": time.UnixMilli(p.GetExpiresUnixMs()).UTC().Format(time.RFC3339),
				"approvals": p.GetApprovals(), "needed": p.GetNeeded()}); err != nil {
				return err
			}
		}
		return nil
	}
	fprintf(stderr, "governors: %s; %d of them apply a proposal\n", strings.Join(resp.GetGovernors(), ", "), resp.GetNeeded())
	if len(resp.GetProposals()) == 0 {
		fprintln(stderr, "no open proposals")
		return nil
	}
	tw := newTable(stdout)
	fprintln(tw, "PROPOSAL\tACTION\tPROPOSER\tAPPROVALS\tEXPIRES")
	for _, p := range resp.GetProposals() {
		fprintf(tw, "%x\t%s\t%s\t%d/%d %s\t%s\n", p.GetId(), describeAction(p.GetAction()), p.GetProposer(),
			len(p.GetApprovals()), p.GetNeeded(), strings.Join(p.GetApprovals(), ","), time.UnixMilli(p.GetExpiresUnixMs()).UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func cmdCollectionConfirmers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("collection confirmers", stderr)
	r := remoteFlags(f)
	coll := f.String("collection", "", "collection name")
	confirmers := f.String("confirmers", "", "participants who must co-sign each anchor, comma-separated (empty: anchors count at once)")
	required := f.Uint("required", 0, "how many of them must co-sign each anchor")
	asJSON := f.Bool("json", false, "print the proposal's status as JSON")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() || *coll == "" {
		return errors.New("collection confirmers: want --server, --token-file (the collection holder's), --collection, --confirmers and --required")
	}
	var list []string
	for _, c := range strings.Split(*confirmers, ",") {
		if c = strings.TrimSpace(c); c != "" {
			list = append(list, c)
		}
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	resp, err := c.SetConfirmers(ctx, &zkv1.SetConfirmersRequest{Collection: *coll, Confirmers: list, ConfirmationsRequired: uint32(*required)})
	if err != nil {
		return fmt.Errorf("collection confirmers: %w", err)
	}
	if *asJSON {
		return printJSON(stdout, statusJSON(resp.GetStatus()))
	}
	printStatus(stdout, resp.GetStatus())
	if !resp.GetStatus().GetApplied() {
		fprintf(stderr, "the governors approve it with `zkshare governance approve %x`\n", resp.GetStatus().GetProposalId())
	}
	return nil
}

// printStatus says where a proposal stands, in one line.
func printStatus(w io.Writer, st *zkv1.ProposalStatus) {
	if st.GetApplied() {
		fprintf(w, "proposal %x: applied (%d of %d approvals: %s)\n", st.GetProposalId(), len(st.GetApprovals()), st.GetNeeded(), strings.Join(st.GetApprovals(), ", "))
		return
	}
	by := ""
	if len(st.GetApprovals()) > 0 {
		by = " (" + strings.Join(st.GetApprovals(), ", ") + ")"
	}
	fprintf(w, "proposal %x: open, %d of %d approvals%s; awaiting %d more governor approval(s)\n", st.GetProposalId(),
		len(st.GetApprovals()), st.GetNeeded(), by, max(0, int(st.GetNeeded())-len(st.GetApprovals())))
}

func statusJSON(st *zkv1.ProposalStatus) map[string]any {
	return map[string]any{"proposal_id": hex.EncodeToString(st.GetProposalId()), "applied": st.GetApplied(), "approvals": st.GetApprovals(),
		"needed": st.GetNeeded(), "tx": hex.EncodeToString(st.GetTxHash()), "height": st.GetHeight()}
}

func printJSON(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

// describeAction is an action in a few words.
func describeAction(a *zkv1.GovernanceAction) string {
	switch k := a.GetAction().(type) {
	case *zkv1.GovernanceAction_RegisterParticipant:
		r := k.RegisterParticipant
		return fmt.Sprintf("register %s as %s (key %.16x…)", r.GetId(), strings.ToLower(strings.TrimPrefix(r.GetRole().String(), "ROLE_")), r.GetPublicKey())
	case *zkv1.GovernanceAction_RevokeParticipant:
		return "revoke " + k.RevokeParticipant.GetId()
	case *zkv1.GovernanceAction_RotateKey:
		return fmt.Sprintf("rotate %s's key to %.16x…", k.RotateKey.GetId(), k.RotateKey.GetPublicKey())
	case *zkv1.GovernanceAction_RotateConsensusKey:
		return fmt.Sprintf("rotate %s's consensus key to %.16x…", k.RotateConsensusKey.GetId(), k.RotateConsensusKey.GetConsensusPublicKey())
	case *zkv1.GovernanceAction_RegisterCircuit:
		r := k.RegisterCircuit
		return fmt.Sprintf("pin circuit %s (%.16x…, %s)", r.GetName(), r.GetCircuitId(), strings.ToLower(strings.TrimPrefix(r.GetSetup().String(), "SETUP_KIND_")))
	case *zkv1.GovernanceAction_RetireCircuit:
		return fmt.Sprintf("retire circuit %.16x… with verifying key %.16x…", k.RetireCircuit.GetCircuitId(), k.RetireCircuit.GetVkSha256())
	case *zkv1.GovernanceAction_SetConfirmers:
		r := k.SetConfirmers
		return fmt.Sprintf("confirmers of collection %.16x…: %d of [%s]", r.GetCollectionId(), r.GetConfirmationsRequired(), strings.Join(r.GetConfirmers(), ","))
	}
	return "?"
}
