package console

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/ledger"
	"github.com/zkshare/zkshare/node"
)

const (
	// auditWindow bounds the audit entries one page reads: the newest
	// (before its cursor), so a page costs the same however long the
	// trail is.
	auditWindow = 2_000
	// auditRows bounds the rows the audit table shows.
	auditRows = 200
	// auditDays is how many days the audit chart spans, ending at the
	// newest entry read.
	auditDays = 30
)

type auditData struct {
	Rows       []auditRow
	Total      int  // entries of the window that match the filter
	Window     int  // entries read
	Full       bool // the window is full: older entries were not read
	Chart      chart
	Consumer   string
	Collection string
	Consumers  []string
	// Collections the caller may filter by.
	Collections []string
	IsHolder    bool
	// Before is this page's cursor (0: the newest); Older the next page's.
	Before, Older uint64
}

// audit lists who asked which kind of question about which collection,
// and when, newest first: for a holder its collections' entries, for a
// consumer its own. The openings come from the holder's store; the ledger
// holds only their salted commitments.
func (c *Console) audit(r *request) (*view, error) {
	if r.session == nil {
		return nil, needSignIn("the audit trail is the holder's and each consumer's own: sign in with a holder's or a consumer's token")
	}
	caller := r.session.caller
	q := r.URL.Query()
	d := auditData{Consumer: q.Get("consumer"), Collection: q.Get("collection")}
	if s := q.Get("before"); s != "" {
		b, err := strconv.ParseUint(s, 10, 64)
		if err != nil || b == 0 {
			return nil, badRequest("before: want a log index")
		}
		d.Before = b
	}
	var (
		colls    []ledger.Collection
		consumer string
	)
	switch caller.Role {
	case zkv1.Role_ROLE_HOLDER:
		d.IsHolder = true
		for _, lc := range c.n.Ledger().Collections() {
			if lc.Holder == caller.ID {
				d.Collections = append(d.Collections, lc.Name)
				if d.Collection == "" || d.Collection == lc.Name {
					colls = append(colls, lc)
				}
			}
		}
		if d.Collection != "" && len(colls) == 0 {
			return nil, notFound("no collection %q of yours", d.Collection)
		}
	case zkv1.Role_ROLE_CONSUMER:
		consumer = caller.ID
	default:
		return nil, forbidden("the audit trail is the holder's and each consumer's own; an admin sees neither")
	}
	rows, err := c.auditRows(r, caller, colls, consumer, d.Before, auditWindow)
	if err != nil {
		return nil, err
	}
	d.Window, d.Full = len(rows), len(rows) == auditWindow
	seen := map[string]bool{}
	var match []auditRow
	for _, a := range rows {
		if !seen[a.Consumer] {
			seen[a.Consumer] = true
			d.Consumers = append(d.Consumers, a.Consumer)
		}
		if (d.Consumer == "" || a.Consumer == d.Consumer) && (d.Collection == "" || a.Name == d.Collection) {
			match = append(match, a)
		}
	}
	slices.Sort(d.Consumers)
	if caller.Role == zkv1.Role_ROLE_CONSUMER {
		for _, a := range rows {
			if !slices.Contains(d.Collections, a.Name) {
				d.Collections = append(d.Collections, a.Name)
			}
		}
		slices.Sort(d.Collections)
	}
	d.Total = len(match)
	d.Chart = perDay(match)
	d.Rows = match[:min(len(match), auditRows)]
	switch {
	case len(d.Rows) > 0 && (len(match) > auditRows || d.Full):
		d.Older = d.Rows[len(d.Rows)-1].LogIndex
	case d.Full: // nothing in the window matched: the next window may
		d.Older = rows[len(rows)-1].LogIndex
	}
	return &view{Page: "audit", Title: "Audit", Data: d}, nil
}

// auditRows reads the newest audit entries with their openings, before log
// index before (0: the newest): the consumer's own (consumer set) or those
// of each collection, merged newest first, at most limit in all.
func (c *Console) auditRows(r *request, caller node.Caller, colls []ledger.Collection, consumer string, before uint64, limit int) ([]auditRow, error) {
	names := map[string]string{}
	for _, lc := range c.n.Ledger().Collections() {
		names[string(lc.ID)] = lc.Name
	}
	var out []auditRow
	read := func(q node.AuditQuery) error {
		q.Newest, q.Before = true, before
		for left := limit; left > 0; {
			q.Limit = min(node.MaxAuditEntries, left)
			es, err := c.n.AuditEntries(r.ctx(), caller, q)
			if err != nil {
				return err
			}
			for _, e := range es {
				rc := e.GetReceipt()
				name := names[string(rc.GetCollectionId())]
				out = append(out, auditRow{Time: time.UnixMilli(e.GetTimeUnixMs()).UTC(), Height: e.GetHeight(), LogIndex: e.GetLogIndex(),
					TxHash: hex.EncodeToString(rc.GetTxHash()), Consumer: rc.GetConsumer(), Statement: rc.GetStatement(),
					QueryHash: hex.EncodeToString(rc.GetQueryHash()), Result: rc.GetResult(), Served: len(rc.GetBundleHash()) > 0,
					Name: name, Path: collectionPath(name)})
			}
			left -= len(es)
			if len(es) < q.Limit {
				return nil
			}
			q.Before = es[len(es)-1].GetLogIndex()
		}
		return nil
	}
	if consumer != "" {
		return out, read(node.AuditQuery{Consumer: consumer})
	}
	for _, lc := range colls {
		if err := read(node.AuditQuery{CollectionID: lc.ID}); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(out, func(a, b auditRow) int { return cmp.Compare(b.LogIndex, a.LogIndex) })
	return out[:min(len(out), limit)], nil
}

// perDay charts entries a day, over the auditDays days that end with the
// newest entry's day (rows newest first).
func perDay(rows []auditRow) chart {
	if len(rows) == 0 {
		return barChart("questions a day", nil)
	}
	last := rows[0].Time.Truncate(24 * time.Hour)
	first := last.AddDate(0, 0, -(auditDays - 1))
	counts := make([]int, auditDays)
	for _, a := range rows {
		if i := int(a.Time.Truncate(24*time.Hour).Sub(first) / (24 * time.Hour)); i >= 0 && i < auditDays {
			counts[i]++
		}
	}
	pts := make([]point, auditDays)
	for i := range pts {
		day := first.AddDate(0, 0, i)
		pts[i] = point{Label: day.Format("Jan 2"), Value: float64(counts[i]), Title: fmt.Sprintf("%s: %d questions", day.Format("2006-01-02"), counts[i])}
	}
	return barChart("questions a day", pts)
}
