package node

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/query"
	"github.com/zkshare/zkshare/records"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// policies are the holder's access policies, one file per collection in
// the data directory's policies/ (they are the holder's, not the ledger's),
// by the collection's full name.
type policies struct {
	dir      string
	mu       sync.Mutex
	byColl   map[string]*zkv1.AccessPolicy
	limiters map[string]*rate.Limiter // collection/consumer/rule
}

const maxRules = 64

var ops = []string{"==", "!=", "<", "<=", ">", ">=", "between", "in", "not in"}

func loadPolicies(dir string) (*policies, error) {
	p := &policies{dir: dir, byColl: map[string]*zkv1.AccessPolicy{}, limiters: map[string]*rate.Limiter{}}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(p.dir, "*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var pol zkv1.AccessPolicy
		if err := protojson.Unmarshal(b, &pol); err != nil {
			return nil, fmt.Errorf("policy %s: %w", f, err)
		}
		coll, err := url.PathUnescape(strings.TrimSuffix(filepath.Base(f), ".json"))
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", f, err)
		}
		p.byColl[coll] = &pol
	}
	return p, nil
}

// check validates a policy against the collection's schema.
func checkPolicy(pol *zkv1.AccessPolicy, sc *records.Schema, participants func(string) bool) error {
	if pol == nil {
		return invalid("policy", "missing")
	}
	if len(pol.GetRules()) > maxRules {
		return invalid("policy.rules", "at most %d", maxRules)
	}
	for i, r := range pol.GetRules() {
		field := fmt.Sprintf("policy.rules[%d]", i)
		if c := r.GetConsumer(); c != "*" && !participants(c) {
			return invalid(field+".consumer", "%q is not a registered consumer (or use \"*\")", c)
		}
		for _, k := range r.GetKinds() {
			if k != zkv1.StatementKind_STATEMENT_KIND_SUBJECT && k != zkv1.StatementKind_STATEMENT_KIND_EXISTS && k != zkv1.StatementKind_STATEMENT_KIND_AGGREGATE &&
				k != zkv1.StatementKind_STATEMENT_KIND_ABSENT {
				return invalid(field+".kinds", "unknown statement kind %d", k)
			}
		}
		if err := checkAggregateRule(field, r, sc); err != nil {
			return err
		}
		for _, t := range r.GetTemplates() {
			f, op, ok := splitTemplate(t)
			if !ok {
				return invalid(field+".templates", "%q: want \"field op\", op one of %s", t, strings.Join(ops, " "))
			}
			if _, _, known := sc.Field(f); !known {
				return invalid(field+".templates", "%q: no field %q in the schema", t, f)
			}
			_ = op
		}
	}
	return nil
}

// checkAggregateRule: a rule that grants aggregates names the fields and
// modes it grants; one that does not names none.
func checkAggregateRule(field string, r *zkv1.PolicyRule, sc *records.Schema) error {
	grants := slices.Contains(r.GetKinds(), zkv1.StatementKind_STATEMENT_KIND_AGGREGATE)
	if !grants {
		if len(r.GetAggregateFields()) > 0 || len(r.GetAggregateModes()) > 0 || r.GetMinGroup() > 0 {
			return invalid(field, "aggregate_fields, aggregate_modes and min_group need the aggregate kind")
		}
		return nil
	}
	if len(r.GetAggregateFields()) == 0 || len(r.GetAggregateModes()) == 0 {
		return invalid(field, "a rule that grants aggregates names the fields (or \"*\") and the modes it grants")
	}
	for _, f := range r.GetAggregateFields() {
		if f == "*" {
			continue
		}
		if _, _, known := sc.Field(f); !known {
			return invalid(field+".aggregate_fields", "no field %q in the schema", f)
		}
	}
	for _, m := range r.GetAggregateModes() {
		if m != zkv1.AggregateMode_AGGREGATE_MODE_REVEAL && m != zkv1.AggregateMode_AGGREGATE_MODE_THRESHOLD {
			return invalid(field+".aggregate_modes", "unknown mode %d", m)
		}
	}
	return nil
}

func splitTemplate(t string) (field, op string, ok bool) {
	field, op, ok = strings.Cut(strings.TrimSpace(t), " ")
	op = strings.TrimSpace(op)
	return field, op, ok && slices.Contains(ops, op)
}

func (p *policies) set(coll string, pol *zkv1.AccessPolicy) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(pol)
	if err != nil {
		return err
	}
	// HOLDER/NAME is one file: HOLDER%2FNAME.json.
	path := filepath.Join(p.dir, url.PathEscape(coll)+".json")
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if err := syncDir(p.dir); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byColl[coll] = proto.CloneOf(pol)
	for k := range p.limiters {
		if strings.HasPrefix(k, coll+"/") {
			delete(p.limiters, k)
		}
	}
	return nil
}

func (p *policies) get(coll string) *zkv1.AccessPolicy {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pol, ok := p.byColl[coll]; ok {
		return proto.CloneOf(pol)
	}
	return &zkv1.AccessPolicy{}
}

// question is what a consumer asks, as far as access policy is concerned.
type question struct {
	kind  zkv1.StatementKind
	query string
	// Aggregates: the field and the mode.
	field string
	mode  zkv1.AggregateMode
}

// allow says whether consumer may ask q of coll now: the first rule that
// names the consumer (or "*"), grants the kind (and for aggregates the
// field and mode) and admits every clause decides; its rate limit then
// applies. It returns the rule's minimum group size for revealed aggregates.
// An absent question has no query: a rule's templates admit it when the
// rule grants the absent kind.
func (p *policies) allow(coll, consumer string, q question) (minGroup uint32, err error) {
	parsed := &query.Query{}
	if q.kind != zkv1.StatementKind_STATEMENT_KIND_ABSENT {
		if parsed, err = query.Parse(q.query); err != nil {
			return 0, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pol := p.byColl[coll]
	for i, r := range pol.GetRules() {
		if r.GetConsumer() != consumer && r.GetConsumer() != "*" {
			continue
		}
		if !slices.Contains(r.GetKinds(), q.kind) || !admits(r.GetTemplates(), parsed) {
			continue
		}
		if q.kind == zkv1.StatementKind_STATEMENT_KIND_AGGREGATE &&
			(!slices.Contains(r.GetAggregateModes(), q.mode) || !slices.Contains(r.GetAggregateFields(), q.field) && !slices.Contains(r.GetAggregateFields(), "*")) {
			continue
		}
		if n := r.GetRatePerMinute(); n > 0 {
			key := fmt.Sprintf("%s/%s/%d", coll, consumer, i)
			lim, ok := p.limiters[key]
			if !ok {
				lim = rate.NewLimiter(rate.Limit(float64(n)/60), int(n))
				p.limiters[key] = lim
			}
			if !lim.Allow() {
				return 0, errorf(ErrResourceExhausted, "policy: %q may ask %d proofs a minute of %s", consumer, n, coll)
			}
		}
		return r.GetMinGroup(), nil
	}
	return 0, errorf(ErrPermissionDenied, "policy: no rule of the collection's access policy allows this question")
}

func admits(templates []string, q *query.Query) bool {
	if len(templates) == 0 {
		return true
	}
	for _, c := range q.Clauses {
		ok := false
		for _, t := range templates {
			if f, op, _ := splitTemplate(t); f == c.Field && op == c.Op {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// SetPolicy replaces the access policy of one of this node's holder's
// collections (a short name is its holder's), checked against its schema.
func (n *Node) SetPolicy(ctx context.Context, c Caller, collection string, pol *zkv1.AccessPolicy) error {
	coll := n.Qualify(collection)
	if err := n.ownsCollection(c, coll); err != nil {
		return err
	}
	col, err := n.store.Collection(coll)
	if err != nil {
		return err
	}
	consumer := func(id string) bool {
		p, ok := n.ledger.State().Participants[id]
		return ok && !p.Revoked && p.Role == zkv1.Role_ROLE_CONSUMER
	}
	if err := checkPolicy(pol, col.SchemaOf(), consumer); err != nil {
		return err
	}
	if err := n.policies.set(coll, pol); err != nil {
		return fmt.Errorf("policy store: %w", err)
	}
	n.log.InfoContext(ctx, "access policy set", "collection", coll, "rules", len(pol.GetRules()))
	return nil
}

// Policy is a collection's access policy (empty when none was set: every
// consumer is refused).
func (n *Node) Policy(_ context.Context, c Caller, collection string) (*zkv1.AccessPolicy, error) {
	coll := n.Qualify(collection)
	if err := n.ownsCollection(c, coll); err != nil {
		return nil, err
	}
	return n.policies.get(coll), nil
}
