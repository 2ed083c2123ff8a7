// Package ledger is zkshare's append-only, signed, verifiable ledger of
// participants, circuits, collections, anchors and audit entries, on
// badger. It holds public data only: ids, hashes, roots and keys.
//
// Validation is a pure state machine (Apply); a single writer cuts blocks
// from it, and every block extends an RFC 6962 log of all transactions
// whose signed checkpoints, inclusion and consistency proofs anyone can
// check offline.
package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MaxTxBytes bounds an encoded transaction; MaxAttestTxBytes an
// AttestReadings, whose batches of device attestations share one block
// write and one anchor.
const (
	MaxTxBytes       = 16 << 10
	MaxAttestTxBytes = 128 << 10
)

const (
	txDomain    = "zkshare/tx/v1\n"
	blockDomain = "zkshare/block/v1\n"
)

// Sentinel errors; the service maps them to Connect codes.
var (
	// ErrMalformed: the bytes are not one canonical transaction. Re-encode it with this package.
	ErrMalformed = errors.New("malformed transaction")
	// ErrRejected: the transaction is well formed but not valid now; the message says why.
	ErrRejected = errors.New("transaction rejected")
	// ErrUnauthenticated: unknown or revoked sender, or a bad signature. Check the key.
	ErrUnauthenticated = errors.New("transaction not authenticated")
	// ErrPermission: the sender's role may not do this.
	ErrPermission = errors.New("not permitted")
	// ErrSequence: the sender's sequence number is not the next one. Fetch it and retry.
	ErrSequence = errors.New("wrong sequence number")
	// ErrClosed: the ledger is shutting down.
	ErrClosed = errors.New("ledger closed")
	// ErrNotFound: no such transaction, block, collection or participant.
	ErrNotFound = errors.New("not found")
	// ErrCorrupt: the stored ledger fails its integrity checks. Restore it from a replica or backup.
	ErrCorrupt = errors.New("ledger corrupt")
)

// Tx is a decoded, canonical transaction.
type Tx struct {
	Raw  []byte // the encoded zkv1.Tx
	Body *zkv1.TxBody
	body []byte
	sig  []byte
	Hash [32]byte // SHA-256 of Raw
	// verifiedWith and verifiedFor are the key and genesis hash the
	// signature was already checked against.
	verifiedWith ed25519.PublicKey
	verifiedFor  [32]byte
	// attestedBy[i] is the device key attestation i's signature was
	// already checked against (AttestReadings).
	attestedBy [][]byte
}

// Chain names the one ledger a transaction is for: its origin and the hash
// of its genesis. Signatures cover both, so a transaction signed for one
// ledger is refused by every other, even one with the same origin.
type Chain struct {
	Origin      string
	GenesisHash [32]byte
}

// signedMessage is what a sender signs: the domain, the genesis hash, then
// the body's bytes.
func signedMessage(genesis [32]byte, body []byte) []byte {
	m := make([]byte, 0, len(txDomain)+len(genesis)+len(body))
	return append(append(append(m, txDomain...), genesis[:]...), body...)
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// DecodeTx decodes a transaction and insists it is the one canonical
// encoding of its contents, so that a transaction has one hash.
func DecodeTx(raw []byte) (*Tx, error) {
	if len(raw) > MaxAttestTxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(raw), MaxAttestTxBytes)
	}
	var env zkv1.Tx
	if err := proto.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var body zkv1.TxBody
	if err := proto.Unmarshal(env.GetBody(), &body); err != nil {
		return nil, fmt.Errorf("%w: body: %w", ErrMalformed, err)
	}
	if err := canonical(&env, raw); err != nil {
		return nil, err
	}
	if err := canonical(&body, env.GetBody()); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	if body.GetKind() == nil {
		return nil, fmt.Errorf("%w: no transaction kind", ErrMalformed)
	}
	if len(raw) > MaxTxBytes && body.GetAttestReadings() == nil {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(raw), MaxTxBytes)
	}
	return &Tx{Raw: raw, Body: &body, body: env.GetBody(), sig: env.GetSignature(), Hash: sha256.Sum256(raw)}, nil
}

func canonical(m proto.Message, raw []byte) error {
	again, err := deterministic.Marshal(m)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !bytes.Equal(again, raw) {
		return fmt.Errorf("%w: not the canonical encoding", ErrMalformed)
	}
	// Unknown fields survive re-encoding, so check for them at every depth:
	// bytes this build does not understand would ride along unvalidated,
	// give one transaction several encodings, and split replicas that know
	// the field from those that do not.
	return knownOnly(m.ProtoReflect(), string(m.ProtoReflect().Descriptor().Name()))
}

// knownOnly fails if m, or any message set within it (singular, in a list
// or as a map value), carries unknown fields.
func knownOnly(m protoreflect.Message, path string) error {
	if len(m.GetUnknown()) != 0 {
		return fmt.Errorf("%w: unknown field in %s", ErrMalformed, path)
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := path + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() == nil {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				err = knownOnly(mv.Message(), fmt.Sprintf("%s[%v]", name, k))
				return err == nil
			})
		case fd.IsList():
			if fd.Message() == nil {
				return true
			}
			for i, l := 0, v.List(); i < l.Len() && err == nil; i++ {
				err = knownOnly(l.Get(i).Message(), fmt.Sprintf("%s[%d]", name, i))
			}
		case fd.Message() != nil:
			err = knownOnly(v.Message(), name)
		}
		return err == nil
	})
	return err
}

// verify checks the signature against key for the ledger whose genesis
// hash is genesis, once per key and genesis.
func (tx *Tx) verify(key ed25519.PublicKey, genesis [32]byte) bool {
	if tx.verifiedWith != nil && tx.verifiedWith.Equal(key) && tx.verifiedFor == genesis {
		return true
	}
	if len(key) != ed25519.PublicKeySize || !ed25519.Verify(key, signedMessage(genesis, tx.body), tx.sig) {
		return false
	}
	tx.verifiedWith, tx.verifiedFor = key, genesis
	return true
}

// SignedBy says whether key signed tx for the ledger whose genesis hash is
// genesis.
func (tx *Tx) SignedBy(key ed25519.PublicKey, genesis [32]byte) bool { return tx.verify(key, genesis) }

// NewTx builds and signs a transaction of kind for sender on chain (a
// ledger's or its state's Chain).
func NewTx(chain Chain, sender *Identity, sequence uint64, at time.Time, kind func(*zkv1.TxBody)) (*Tx, error) {
	body := &zkv1.TxBody{Origin: chain.Origin, Sender: sender.ID, Sequence: sequence, TimeUnixMs: at.UnixMilli()}
	kind(body)
	b, err := deterministic.Marshal(body)
	if err != nil {
		return nil, err
	}
	raw, err := deterministic.Marshal(&zkv1.Tx{Body: b, Signature: ed25519.Sign(sender.Key, signedMessage(chain.GenesisHash, b))})
	if err != nil {
		return nil, err
	}
	return DecodeTx(raw)
}

// Kind setters for NewTx.

// RegisterParticipant is an admin's registration of a participant.
func RegisterParticipant(id string, role zkv1.Role, pub ed25519.PublicKey) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) {
		b.Kind = &zkv1.TxBody_RegisterParticipant{RegisterParticipant: &zkv1.RegisterParticipant{Id: id, Role: role, PublicKey: pub}}
	}
}

// RotateKey replaces id's key.
func RotateKey(id string, pub ed25519.PublicKey) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) {
		b.Kind = &zkv1.TxBody_RotateKey{RotateKey: &zkv1.RotateKey{Id: id, PublicKey: pub}}
	}
}

// RegisterValidator is a RegisterParticipant of a validator with its
// consensus-engine key, for NewTx.
func RegisterValidator(id string, pub, consensus ed25519.PublicKey) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) {
		b.Kind = &zkv1.TxBody_RegisterParticipant{RegisterParticipant: &zkv1.RegisterParticipant{Id: id, Role: zkv1.Role_ROLE_VALIDATOR, PublicKey: pub, ConsensusPublicKey: consensus}}
	}
}

// RotateConsensusKey replaces a validator's consensus-engine key, for NewTx.
func RotateConsensusKey(id string, pub ed25519.PublicKey) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) {
		b.Kind = &zkv1.TxBody_RotateConsensusKey{RotateConsensusKey: &zkv1.RotateConsensusKey{Id: id, ConsensusPublicKey: pub}}
	}
}

// RevokeParticipant disables id.
func RevokeParticipant(id string) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) {
		b.Kind = &zkv1.TxBody_RevokeParticipant{RevokeParticipant: &zkv1.RevokeParticipant{Id: id}}
	}
}

// RegisterCircuit pins a circuit's verifying key hash.
func RegisterCircuit(c *zkv1.RegisterCircuit) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) { b.Kind = &zkv1.TxBody_RegisterCircuit{RegisterCircuit: c} }
}

// RegisterCollection announces a collection.
func RegisterCollection(c *zkv1.RegisterCollection) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) { b.Kind = &zkv1.TxBody_RegisterCollection{RegisterCollection: c} }
}

// AnchorRoot anchors a collection root.
func AnchorRoot(a *zkv1.Anchor) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) { b.Kind = &zkv1.TxBody_Anchor{Anchor: a} }
}

// Confirm co-signs an anchor.
func Confirm(c *zkv1.ConfirmAnchor) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) { b.Kind = &zkv1.TxBody_ConfirmAnchor{ConfirmAnchor: c} }
}

// AuditEntry records a served proof.
func AuditEntry(a *zkv1.Audit) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) { b.Kind = &zkv1.TxBody_Audit{Audit: a} }
}

// RegisterDeviceTx registers a device, for NewTx.
func RegisterDeviceTx(r *zkv1.RegisterDevice) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) { b.Kind = &zkv1.TxBody_RegisterDevice{RegisterDevice: r} }
}

// RevokeDeviceTx revokes a device, for NewTx.
func RevokeDeviceTx(id string) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) { b.Kind = &zkv1.TxBody_RevokeDevice{RevokeDevice: &zkv1.RevokeDevice{Id: id}} }
}

// AttestReadingsTx relays device attestations with the anchor they make, for NewTx.
func AttestReadingsTx(anchor *zkv1.Anchor, as []*zkv1.Attestation) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) {
		b.Kind = &zkv1.TxBody_AttestReadings{AttestReadings: &zkv1.AttestReadings{Anchor: anchor, Attestations: as}}
	}
}

// EndorseDeviceTx vouches for a device, for NewTx.
func EndorseDeviceTx(id string) func(*zkv1.TxBody) {
	return func(b *zkv1.TxBody) { b.Kind = &zkv1.TxBody_EndorseDevice{EndorseDevice: &zkv1.EndorseDevice{Id: id}} }
}

// AnchorOf is the anchor a transaction makes: an Anchor's, or the one an
// AttestReadings states; nil for any other kind.
func AnchorOf(b *zkv1.TxBody) *zkv1.Anchor {
	if a := b.GetAnchor(); a != nil {
		return a
	}
	return b.GetAttestReadings().GetAnchor()
}
