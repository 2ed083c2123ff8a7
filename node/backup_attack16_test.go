package node_test

import (
	"bytes"
	"testing"

	"github.com/zkshare/zkshare/node"
)

// TestAttack16PlainArchiveRestoresWithKey: the archive format says age's
// scrypt recipient "also authenticates the archive: no one without the key
// can make an archive that it opens". But openArchive passes a plain tar
// through whatever key is given, and end.json is unkeyed SHA-256. Anyone
// who can replace the archive in backup storage (not knowing the node's
// key) makes a plain one from a node of their own (their identities,
// tokens, policies, ledger and records); the operator restores it with
// the node's key, as for every archive of that node: it is restored
// without a word, and even encrypted at rest under the operator's key. A
// restore given a key should refuse an archive that is not encrypted (or
// at least one whose manifest says the node encrypted at rest is absent).
//
// Found in the review of issue 16 and fixed; the test keeps it fixed.
func TestAttack16PlainArchiveRestoresWithKey(t *testing.T) {
	operatorKey := bytes.Repeat([]byte{0x5a}, 32)
	// The attacker's own node, plain: no key needed to make its archive.
	forged := backupDir(t, offlineNode(t, nil), nil)
	dst := t.TempDir() + "/restored"
	m, err := node.Restore(t.Context(), bytes.NewReader(forged), dst, node.RestoreOptions{EncryptionKey: operatorKey})
	if err == nil {
		t.Fatalf("a plain archive nobody with the key made was restored with the key given (node %s, encrypted at rest: %v)", m.NodeID, m.EncryptedAtRest)
	}
}
