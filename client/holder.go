package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/records"
)

// CommitChunk is how many records one CommitRecords message carries at
// most. 2,000 records of a typical schema make messages of a few hundred
// kilobytes: small enough for steady progress and far below the node's
// limits (10,000 records and 16 MiB a message), big enough that framing
// costs nothing next to hashing. A chunk is also cut at CommitChunkBytes,
// so records with long values never make a message the node refuses.
const CommitChunk = 2000

// CommitChunkBytes bounds the values in one CommitRecords message (a
// quarter of the node's 16 MiB message limit).
const CommitChunkBytes = 4 << 20

// CallOption configures one call: a streaming one (Commit,
// ProveAggregate) or Verify.
type CallOption func(*callConfig)

type callConfig struct {
	progress  func(done, total int)
	freshness time.Duration // Verify
}

// WithProgress reports a streaming call's progress. Commit calls it after
// each message with the records sent so far and total 0 (the iterator's
// length is unknown); ProveAggregate with the node's chunks proven and
// the chunks to prove. It runs on the calling goroutine.
func WithProgress(fn func(done, total int)) CallOption {
	return func(c *callConfig) {
		if fn != nil {
			c.progress = fn
		}
	}
}

func callOptions(opts []CallOption) callConfig {
	var c callConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.progress == nil {
		c.progress = func(int, int) {}
	}
	return c
}

// CreateCollection registers a collection on the ledger from req's schema
// JSON (name, key field, typed fields) and, optionally, its confirmers.
// The answer names it HOLDER/NAME.
func (c *Client) CreateCollection(ctx context.Context, req *zkv1.CreateCollectionRequest) (*zkv1.CreateCollectionResponse, error) {
	resp, err := c.holder.CreateCollection(ctx, req)
	return resp, wrap("create collection", err)
}

// GetCollection describes a collection: NAME of the node's holder, or
// HOLDER/NAME of any holder. It needs no token.
func (c *Client) GetCollection(ctx context.Context, name string) (*zkv1.CollectionInfo, error) {
	resp, err := c.holder.GetCollection(ctx, &zkv1.GetCollectionRequest{Name: name})
	if err != nil {
		return nil, wrap("get collection "+name, err)
	}
	return resp.GetCollection(), nil
}

// Commit streams recs into collection in messages of at most CommitChunk
// records, then waits for the node to store them and anchor the new root.
// A record whose key exists replaces it; a nil recs sends none. The commit is all or nothing:
// on an error (a bad value names its record and field) nothing is stored.
func (c *Client) Commit(ctx context.Context, collection string, recs iter.Seq[records.Record], opts ...CallOption) (*zkv1.CommitRecordsResponse, error) {
	cfg := callOptions(opts)
	stream, err := c.holder.CommitRecords(ctx)
	if err != nil {
		return nil, wrap("commit "+collection, err)
	}
	sent := 0
	msg := &zkv1.CommitRecordsRequest{Collection: collection}
	size := 0
	flush := func() bool {
		if err := stream.Send(msg); err != nil {
			return false // CloseAndReceive says why
		}
		sent += len(msg.Records)
		cfg.progress(sent, 0)
		msg, size = &zkv1.CommitRecordsRequest{}, 0
		return true
	}
	ok := true
	if recs == nil {
		recs = func(func(records.Record) bool) {}
	}
	for r := range recs {
		if ctx.Err() != nil {
			ok = false // CloseAndReceive reports the cancellation
			break
		}
		msg.Records = append(msg.Records, &zkv1.Record{Key: r.Key, Values: r.Values})
		size += len(r.Key)
		for _, v := range r.Values {
			size += len(v) + 2
		}
		if len(msg.Records) >= CommitChunk || size >= CommitChunkBytes {
			if ok = flush(); !ok {
				break
			}
		}
	}
	if ok && (len(msg.Records) > 0 || sent == 0) {
		flush()
	}
	resp, err := stream.CloseAndReceive()
	if err != nil {
		return nil, wrap(fmt.Sprintf("commit %s (%d records sent)", collection, sent), err)
	}
	return resp, nil
}

// Update replaces the values of records that exist (by key) and anchors
// the new root; an unknown key is an error and nothing changes.
func (c *Client) Update(ctx context.Context, collection string, recs []records.Record) (*zkv1.UpdateRecordsResponse, error) {
	req := &zkv1.UpdateRecordsRequest{Collection: collection}
	for _, r := range recs {
		req.Records = append(req.Records, &zkv1.Record{Key: r.Key, Values: r.Values})
	}
	resp, err := c.holder.UpdateRecords(ctx, req)
	return resp, wrap("update "+collection, err)
}

// Delete removes the records with keys and anchors the new root.
func (c *Client) Delete(ctx context.Context, collection string, keys ...string) (*zkv1.DeleteRecordsResponse, error) {
	resp, err := c.holder.DeleteRecords(ctx, &zkv1.DeleteRecordsRequest{Collection: collection, Keys: keys})
	return resp, wrap("delete from "+collection, err)
}

// SetPolicy replaces collection's access policy: which consumers may ask
// which statement kinds, clauses and aggregates, and how often.
func (c *Client) SetPolicy(ctx context.Context, collection string, p *zkv1.AccessPolicy) error {
	_, err := c.holder.SetPolicy(ctx, &zkv1.SetPolicyRequest{Collection: collection, Policy: p})
	return wrap("set policy of "+collection, err)
}

// GetPolicy returns collection's access policy.
func (c *Client) GetPolicy(ctx context.Context, collection string) (*zkv1.AccessPolicy, error) {
	resp, err := c.holder.GetPolicy(ctx, &zkv1.GetPolicyRequest{Collection: collection})
	if err != nil {
		return nil, wrap("get policy of "+collection, err)
	}
	return resp.GetPolicy(), nil
}

// Prove asks the node's holder a subject or exists question; the answer
// carries the bundle (anchored, with its inclusion proof and checkpoint)
// and the audit receipt. An exists question with no matching record is
// FailedPrecondition.
func (c *Client) Prove(ctx context.Context, req *zkv1.ProveRequest) (*zkv1.ProveResponse, error) {
	resp, err := c.holder.Prove(ctx, req)
	return resp, wrap("prove", err)
}

// ProveAggregate asks for an aggregate proof over every live record of a
// collection and waits for it (seconds per 1,024 records), reporting the
// node's progress through WithProgress.
func (c *Client) ProveAggregate(ctx context.Context, req *zkv1.ProveAggregateRequest, opts ...CallOption) (resp *zkv1.ProveAggregateResponse, err error) {
	cfg := callOptions(opts)
	stream, err := c.holder.ProveAggregate(ctx, req)
	if err != nil {
		return nil, wrap("prove aggregate", err)
	}
	defer func() {
		if cerr := stream.Close(); cerr != nil {
			resp, err = nil, errors.Join(err, wrap("prove aggregate: close stream", cerr))
		}
	}()
	for stream.Receive() {
		m := stream.Msg()
		if m.GetBundle() != nil {
			return m, nil
		}
		cfg.progress(int(m.GetChunksDone()), int(m.GetChunksTotal()))
	}
	if err := stream.Err(); err != nil {
		return nil, wrap("prove aggregate", err)
	}
	return nil, errors.New("prove aggregate: the stream ended without a bundle")
}

// IssueReceipt gives the subject of one record its record, salt and
// anchor, so it can prove facts about itself offline. It is private:
// hand it to that subject only.
func (c *Client) IssueReceipt(ctx context.Context, collection, subject string) (*zkv1.Receipt, error) {
	resp, err := c.holder.IssueReceipt(ctx, &zkv1.IssueReceiptRequest{Collection: collection, Subject: subject})
	if err != nil {
		return nil, wrap("issue receipt in "+collection, err)
	}
	return resp.GetReceipt(), nil
}

// ConfirmAnchor co-signs another holder's anchor as one of its
// collection's confirmers (M of N).
func (c *Client) ConfirmAnchor(ctx context.Context, req *zkv1.ConfirmAnchorRequest) (*zkv1.ConfirmAnchorResponse, error) {
	resp, err := c.holder.ConfirmAnchor(ctx, req)
	return resp, wrap("confirm anchor", err)
}

// SetConfirmers proposes a collection's new confirmer set; the answer's
// status says whether it applied or awaits the governors.
func (c *Client) SetConfirmers(ctx context.Context, req *zkv1.SetConfirmersRequest) (*zkv1.SetConfirmersResponse, error) {
	resp, err := c.holder.SetConfirmers(ctx, req)
	return resp, wrap("set confirmers of "+req.GetCollection(), err)
}
