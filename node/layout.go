package node

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node/datadir"
)

// The data directory's layout is package datadir's.

// Local identities every node has.
const (
	AdminID  = datadir.Admin
	NodeID   = datadir.Node
	HolderID = datadir.Holder
)

// IdentityPath is where a local identity's key is kept.
func IdentityPath(data, id string) string { return datadir.Identity(data, id) }

// TokenPath is where a local identity's API token is kept.
func TokenPath(data, id string) string { return datadir.Token(data, id) }

// LedgerDir is a data directory's ledger.
func LedgerDir(data string) string { return datadir.Ledger(data) }

func holderDir(data string) string   { return datadir.HolderStore(data) }
func tokensPath(data string) string  { return datadir.Tokens(data) }
func policiesDir(data string) string { return datadir.Policies(data) }

// ErrInitialized means Init found a node in the directory already. Serve it,
// or choose another directory.
var ErrInitialized = errors.New("this directory already holds a node")

// Initialized says whether data holds a finished bootstrap.
func Initialized(data string) bool {
	_, err := os.Stat(IdentityPath(data, NodeID))
	return err == nil
}

// Init creates a new single-node data directory: the identities of the
// admin, the node and the local holder, a ledger whose genesis names them,
// and the admin's and holder's API tokens. It is the one bootstrap:
// `zkshare ledger init` calls it, and Open calls it on a first start.
// development marks the ledger's genesis for development: it then accepts
// single-party circuit keys, for good.
func Init(data, origin string, development bool, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if origin == "" {
		origin = DefaultOrigin
	}
	if Initialized(data) {
		return fmt.Errorf("%s: %w", data, ErrInitialized)
	}
	if err := os.MkdirAll(filepath.Join(data, "identities"), 0o700); err != nil {
		return err
	}
	ids := map[string]*ledger.Identity{}
	for _, id := range []string{AdminID, NodeID, HolderID} {
		ident, err := ledger.NewIdentity(id)
		if err != nil {
			return err
		}
		ids[id] = ident
	}
	g := &ledger.Genesis{Origin: origin, TimeUnixMs: time.Now().UnixMilli(), Participants: []ledger.Participant{
		{ID: AdminID, Role: zkv1.Role_ROLE_ADMIN, Key: ids[AdminID].Public()},
		{ID: NodeID, Role: zkv1.Role_ROLE_VALIDATOR, Key: ids[NodeID].Public()},
		{ID: HolderID, Role: zkv1.Role_ROLE_HOLDER, Key: ids[HolderID].Public()},
	}, Development: development}
	if development {
		log.Warn("DEVELOPMENT LEDGER: its genesis accepts single-party circuit keys, whose maker can forge proofs; a production ledger (no --dev, ceremony keys) never does")
	}
	if err := ledger.Init(LedgerDir(data), g); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if err := writeTokens(data, map[string]string{AdminID: AdminID, HolderID: HolderID}); err != nil {
		return err
	}
	// Identities last, the node's the very last: its presence marks a
	// finished bootstrap.
	for _, id := range []string{AdminID, HolderID, NodeID} {
		if err := ids[id].Save(IdentityPath(data, id)); err != nil {
			return err
		}
	}
	log.Info("new node", "data", data, "origin", origin)
	return nil
}

// writeTokens issues a token for each local identity (file name to
// participant id) and keeps it in identities/NAME.token.
func writeTokens(data string, ids map[string]string) error {
	t := &tokens{path: tokensPath(data), byID: map[string][]byte{}}
	for file, id := range ids {
		tok, err := t.issue(id)
		if err != nil {
			return err
		}
		if err := os.WriteFile(TokenPath(data, file), []byte(tok+"\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// InitOrg completes a consortium organisation's directory made by
// consortium.Init (identities, ledger, CometBFT): it gives the local
// identities their API tokens, unless they have them. `zkshare consortium
// init` calls it for each organisation; Open calls it too.
func InitOrg(data string) error { return ensureTokens(data) }

// ensureTokens gives a consortium organisation's local identities tokens
// on first start.
func ensureTokens(data string) error {
	if _, err := os.Stat(tokensPath(data)); err == nil {
		return nil
	}
	ids := map[string]string{}
	for _, file := range []string{AdminID, HolderID} {
		if id, err := ledger.LoadIdentity(IdentityPath(data, file)); err == nil {
			ids[file] = id.ID
		}
	}
	return writeTokens(data, ids)
}
