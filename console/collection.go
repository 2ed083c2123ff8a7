package console

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
	"github.com/zkshare/zkshare/records"
)

const (
	// maxAnchorsShown bounds the anchors a collection page reads (newest).
	maxAnchorsShown = 100
	// aggregateWindow bounds the audit entries the holder's view reads for
	// aggregate answers (the newest), and maxAggregatesShown those it lists.
	aggregateWindow    = 1_000
	maxAggregatesShown = 50
)

type anchorRow struct {
	Sequence      uint64
	Height        uint64
	Time          time.Time
	Records       uint64
	Root          string
	TxHash        string
	Counts        bool
	Confirmations []string
}

type fieldRow struct {
	Name, Type string
	Width      int
	Scale      int
	Values     string
}

type ruleRow struct {
	Consumer   string
	Kinds      string
	Templates  string
	Rate       uint32
	Aggregates string
	MinGroup   uint32
}

type auditRow struct {
	Time      time.Time
	Height    uint64
	LogIndex  uint64
	TxHash    string
	Consumer  string
	Statement string
	QueryHash string
	Result    bool
	Served    bool
	Path      string // the collection's page
	Name      string // the collection
}

type collectionData struct {
	collectionRow
	ID           string
	SchemaHash   string
	Key          string
	Fields       []fieldRow
	Anchors      []anchorRow
	AnchorsShown int
	Chart        chart
	Confirmers   []string
	Required     uint32
	Pending      []anchorRow
	Devices      int
	// The holder's own view (nil for others).
	Owner      bool
	Proving    *zkv1.ProvingState
	Rules      []ruleRow
	Aggregates []auditRow
	// AggregateWindow is how many of the newest questions were looked at.
	AggregateWindow int
}

// ledgerCollection finds a collection by its qualified name.
func (c *Console) ledgerCollection(qualified string) (ledger.Collection, bool) {
	id := records.CollectionID(qualified)
	b := id.Bytes()
	lc, ok := c.n.Ledger().State().Collections[hex.EncodeToString(b[:])]
	return lc, ok
}

// collection shows a collection: what the ledger says of it to anyone,
// and to its holder also its access policy, what proofs read, and the
// aggregate questions answered.
func (c *Console) collection(r *request) (*view, error) {
	qualified := r.PathValue("holder") + "/" + r.PathValue("name")
	lc, ok := c.ledgerCollection(qualified)
	if !ok {
		return nil, notFound("no collection %q on this ledger", qualified)
	}
	l := c.n.Ledger()
	d := collectionData{collectionRow: collectionSummary(lc), ID: hex.EncodeToString(lc.ID), SchemaHash: hex.EncodeToString(lc.SchemaHash),
		Confirmers: lc.Confirmers, Required: lc.Required, Devices: len(l.State().DevicesOf(lc.ID))}
	caller := node.Caller{}
	if r.session != nil {
		caller = r.session.caller
	}
	info, err := c.n.Collection(r.ctx(), caller, qualified)
	if err != nil {
		return nil, err
	}
	if len(info.GetSchema()) > 0 {
		sc, err := records.ParseSchema(info.GetSchema())
		if err != nil {
			return nil, fmt.Errorf("collection %s schema: %w", qualified, err)
		}
		d.Key = sc.Key
		for _, f := range sc.Fields {
			d.Fields = append(d.Fields, fieldRow{Name: f.Name, Type: string(f.Type), Width: f.Width, Scale: f.Scale, Values: strings.Join(f.Values, ", ")})
		}
	}
	if err := c.anchors(&d, lc); err != nil {
		return nil, err
	}
	if r.session != nil && caller.Role == zkv1.Role_ROLE_HOLDER && caller.ID == lc.Holder && lc.Holder == c.n.HolderID() {
		if err := c.ownerView(r, &d, lc, info); err != nil {
			return nil, err
		}
	}
	return &view{Page: "collection", Title: qualified, Data: d}, nil
}

// anchors reads the newest anchors (at most maxAnchorsShown) and charts
// the records each anchored.
func (c *Console) anchors(d *collectionData, lc ledger.Collection) error {
	if lc.Last == nil {
		return nil
	}
	l := c.n.Ledger()
	first := uint64(1)
	if lc.Last.Sequence > maxAnchorsShown {
		first = lc.Last.Sequence - maxAnchorsShown + 1
	}
	var pts []point
	for seq := first; seq <= lc.Last.Sequence; seq++ {
		e, err := l.AnchorBySequence(lc.ID, seq)
		if err != nil {
			return fmt.Errorf("anchor %d of %s: %w", seq, lc.Name, err)
		}
		a := e.Tx.Body.GetAnchor()
		t, _ := l.BlockTime(e.Height) // a block the entry names exists
		ar := anchorRow{Sequence: seq, Height: e.Height, Time: time.UnixMilli(t).UTC(), Records: a.GetRecordCount(),
			Root: hex.EncodeToString(a.GetRoot()), TxHash: hex.EncodeToString(e.Tx.Hash[:]), Counts: lc.Counts(seq)}
		if p, ok := lc.Pending[seq]; ok {
			ar.Confirmations = p.Confirmations
			d.Pending = append(d.Pending, ar)
		} else if lc.Latest != nil && lc.Latest.Sequence == seq {
			ar.Confirmations = lc.Latest.Confirmations
		}
		d.Anchors = append(d.Anchors, ar)
		pts = append(pts, point{Label: fmt.Sprintf("#%d", seq), Value: float64(ar.Records), Mark: !ar.Counts,
			Title: fmt.Sprintf("anchor %d at block %d: %d records", seq, ar.Height, ar.Records)})
	}
	d.AnchorsShown = len(d.Anchors)
	d.Chart = barChart("records at each anchor", pts)
	slices.Reverse(d.Anchors)
	return nil
}

// ownerView adds what only the collection's holder sees.
func (c *Console) ownerView(r *request, d *collectionData, lc ledger.Collection, info *zkv1.CollectionInfo) error {
	qualified := lc.Name
	d.Owner = true
	d.Proving = info.GetProving()
	if !d.DeviceFed {
		pol, err := c.n.Policy(r.ctx(), r.session.caller, qualified)
		if err != nil {
			return err
		}
		for _, ru := range pol.GetRules() {
			d.Rules = append(d.Rules, policyRow(ru))
		}
	}
	rows, err := c.auditRows(r, r.session.caller, []ledger.Collection{lc}, "", 0, aggregateWindow)
	if err != nil {
		return err
	}
	d.AggregateWindow = len(rows)
	for _, a := range rows {
		if a.Statement == "aggregate" && len(d.Aggregates) < maxAggregatesShown {
			d.Aggregates = append(d.Aggregates, a)
		}
	}
	return nil
}

func policyRow(ru *zkv1.PolicyRule) ruleRow {
	var kinds, modes []string
	for _, k := range ru.GetKinds() {
		kinds = append(kinds, strings.ToLower(strings.TrimPrefix(k.String(), "STATEMENT_KIND_")))
	}
	for _, m := range ru.GetAggregateModes() {
		modes = append(modes, strings.ToLower(strings.TrimPrefix(m.String(), "AGGREGATE_MODE_")))
	}
	agg := ""
	if len(ru.GetAggregateFields()) > 0 {
		agg = strings.Join(ru.GetAggregateFields(), ", ") + " (" + strings.Join(modes, ", ") + ")"
	}
	return ruleRow{Consumer: ru.GetConsumer(), Kinds: strings.Join(kinds, ", "), Templates: strings.Join(ru.GetTemplates(), "; "),
		Rate: ru.GetRatePerMinute(), Aggregates: agg, MinGroup: ru.GetMinGroup()}
}

type devicesData struct {
	Devices []deviceRow
}

type deviceRow struct {
	ID, Collection, Path, Model, Location, Operator string
	Revoked                                         bool
	LastCounter                                     uint64
	LastTime                                        time.Time
	Readings, Missing                               uint64
	Gaps                                            []string
	Endorsed                                        string
}

// devices lists the registered devices, their last counters and the
// counters never attested (gaps): what the ledger shows anyone.
func (c *Console) devices(*request) (*view, error) {
	ds, err := c.n.Devices("")
	if err != nil {
		return nil, err
	}
	var d devicesData
	for _, s := range ds {
		dr := deviceRow{ID: s.GetId(), Collection: s.GetCollection(), Path: collectionPath(s.GetCollection()), Model: s.GetModel(),
			Location: s.GetLocation(), Operator: s.GetOperator(), Revoked: s.GetRevoked(), LastCounter: s.GetLastCounter(),
			Readings: s.GetReadings(), Missing: s.GetMissing(), Endorsed: strings.Join(s.GetEndorsedBy(), ", ")}
		if s.GetLastTimeUnixMs() > 0 {
			dr.LastTime = time.UnixMilli(s.GetLastTimeUnixMs()).UTC()
		}
		for _, g := range s.GetGaps() {
			if g.GetFirst() == g.GetLast() {
				dr.Gaps = append(dr.Gaps, fmt.Sprint(g.GetFirst()))
			} else {
				dr.Gaps = append(dr.Gaps, fmt.Sprintf("%d–%d", g.GetFirst(), g.GetLast()))
			}
		}
		d.Devices = append(d.Devices, dr)
	}
	return &view{Page: "devices", Title: "Devices", Data: d}, nil
}
