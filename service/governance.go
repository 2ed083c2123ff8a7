package service

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
)

// govern carries out a governance change as this node's admin. With one
// governor enough (a single node) it sends the direct transaction, as
// always; otherwise it proposes the action, which approves it when another
// governor proposed it first (the proposal id is the action's hash). done
// says whether a state already has the change: a proposal applied by the
// others' approvals meanwhile is no error. pending is true while the
// change awaits approvals; rec is nil when this node sent nothing.
func (s *Server) govern(ctx context.Context, direct func(*zkv1.TxBody), action *zkv1.GovernanceAction, done func(*ledger.State) bool) (rec *ledger.Receipt, id []byte, pending bool, err error) {
	if s.admin == nil {
		return nil, nil, false, errors.New("this node holds no admin key")
	}
	if s.ledger.State().GovernanceThreshold() <= 1 {
		rec, err := s.send(ctx, s.admin, direct)
		return rec, nil, false, err
	}
	if id, err = ledger.ProposalID(action); err != nil {
		return nil, nil, false, err
	}
	if done(s.ledger.State()) {
		return nil, id, false, nil
	}
	if p, ok := s.ledger.State().Proposals[hex.EncodeToString(id)]; ok && slices.Contains(p.Approvals, s.admin.ID) {
		return nil, id, true, nil // approved before (a restart)
	}
	rec, err = s.send(ctx, s.admin, ledger.ProposeAction(action))
	if err != nil {
		// Refused because the change is done, or about to be: under
		// consensus the mempool may hold the approvals that apply it
		// before they are committed here.
		for range 40 {
			if done(s.ledger.State()) {
				return nil, id, false, nil
			}
			if !errors.Is(err, ledger.ErrRejected) {
				break
			}
			select {
			case <-ctx.Done():
				return nil, id, false, err
			case <-time.After(250 * time.Millisecond):
			}
		}
		return nil, id, false, err
	}
	return rec, id, !done(s.ledger.State()), nil
}
