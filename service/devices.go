package service

import (
	"context"
	"strconv"

	"connectrpc.com/connect"
	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
	"github.com/zkshare/zkshare/node"
)

// maxReadingsPerMsg bounds one SubmitReadings message; a call is taken in
// pieces of node.MaxReadingsPerCall, each relayed before the next is read.
const maxReadingsPerMsg = 1024

// deviceService takes devices' signed readings. It needs no token: every
// attestation is checked against its device's registered key before
// anything is written.
type deviceService struct{ s *Server }

func (d *deviceService) SubmitReadings(ctx context.Context, stream *connect.ClientStream[zkv1.SubmitReadingsRequest]) (*zkv1.SubmitReadingsResponse, error) {
	resp := &zkv1.SubmitReadingsResponse{}
	var pending []*zkv1.Reading
	flush := func() error {
		res, err := d.s.node.SubmitReadingsAt(ctx, pending, int(resp.Accepted))
		if res != nil {
			resp.Accepted += uint64(res.Accepted)
			resp.TxHashes = append(resp.TxHashes, res.TxHashes...)
			resp.Height = max(resp.Height, res.Height)
		}
		pending = pending[:0]
		if err != nil {
			// Readings are named by their place in this call.
			return connect.NewError(connect.CodeOf(toConnect(err)), &offsetError{err: err, accepted: resp.Accepted})
		}
		return nil
	}
	for stream.Receive() {
		rs := stream.Msg().GetReadings()
		if len(rs) > maxReadingsPerMsg {
			return nil, invalid("readings", "at most %d per message", maxReadingsPerMsg)
		}
		for _, r := range rs {
			if pending = append(pending, r); len(pending) == node.MaxReadingsPerCall {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := stream.Err(); err != nil {
		return nil, toConnect(err)
	}
	if len(pending) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// offsetError says how many readings of the call were attested before the
// refused one. Its text is the node's, which names no value.
type offsetError struct {
	err      error
	accepted uint64
}

func (e *offsetError) Error() string {
	if c := toConnect(e.err); connect.CodeOf(c) == connect.CodeInternal {
		return "internal error"
	}
	return e.err.Error() + " (" + strconv.FormatUint(e.accepted, 10) + " readings of this call were attested before it)"
}

func (d *deviceService) ListDevices(ctx context.Context, req *zkv1.ListDevicesRequest) (*zkv1.ListDevicesResponse, error) {
	ds, err := d.s.node.Devices(req.GetCollection())
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.ListDevicesResponse{Devices: ds}, nil
}

func (h *holderService) RegisterDevice(ctx context.Context, req *zkv1.RegisterDeviceRequest) (*zkv1.RegisterDeviceResponse, error) {
	rec, err := h.s.node.RegisterDevice(ctx, callerOf(ctx), node.DeviceInfo{ID: req.GetId(), Collection: req.GetCollection(),
		Model: req.GetModel(), Location: req.GetLocation(), PublicKey: req.GetPublicKey(), Proof: req.GetProof(), IntervalMs: req.GetReportIntervalMs()})
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.RegisterDeviceResponse{TxHash: rec.Hash[:]}, nil
}

func (h *holderService) RevokeDevice(ctx context.Context, req *zkv1.RevokeDeviceRequest) (*zkv1.RevokeDeviceResponse, error) {
	rec, err := h.s.node.RevokeDevice(ctx, callerOf(ctx), req.GetId())
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.RevokeDeviceResponse{TxHash: rec.Hash[:]}, nil
}

func (a *adminService) EndorseDevice(ctx context.Context, req *zkv1.EndorseDeviceRequest) (*zkv1.EndorseDeviceResponse, error) {
	rec, err := a.s.node.EndorseDevice(ctx, callerOf(ctx), req.GetId())
	if err != nil {
		return nil, toConnect(err)
	}
	return &zkv1.EndorseDeviceResponse{TxHash: rec.Hash[:]}, nil
}
