// Package datadir is the layout of a node's data directory, shared by the
// node engine and by the consortium's bootstrap (which the engine imports,
// so it cannot import the engine):
//
//	holder/              the holder's private record store
//	ledger/              the public ledger
//	identities/ID.json   Ed25519 keys of the admin, the node and the local holder
//	identities/ID.token  their API tokens (shown to the operator, not read back)
//	tokens.json          SHA-256 hashes of every participant's token
//	policies/            the holder's access policies, one file per collection
//
// A consortium organisation's directory has the same layout plus cometbft/.
package datadir

import "path/filepath"

// Names of the local identities' files every node has (under a consortium
// their participant ids differ: they are in the files).
const (
	Admin  = "admin"
	Node   = "node"
	Holder = "holder"
)

// Identity is where a local identity's key is kept.
func Identity(data, name string) string { return filepath.Join(data, "identities", name+".json") }

// Token is where a local identity's API token is kept.
func Token(data, name string) string { return filepath.Join(data, "identities", name+".token") }

// Ledger is the ledger's directory.
func Ledger(data string) string { return filepath.Join(data, "ledger") }

// HolderStore is the holder's private store.
func HolderStore(data string) string { return filepath.Join(data, "holder") }

// Tokens is the file of API token hashes.
func Tokens(data string) string { return filepath.Join(data, "tokens.json") }

// Policies is the directory of access policies.
func Policies(data string) string { return filepath.Join(data, "policies") }
