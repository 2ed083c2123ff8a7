package client

import (
	"context"
	"fmt"
	"iter"

	zkv1 "github.com/zkshare/zkshare/gen/zkshare/v1"
)

// ReadingsChunk is how many readings one SubmitReadings message carries at
// most: a reading is a few hundred bytes, so a message stays near 100 KiB,
// well under the node's limit of 1,024 a message, and a refusal comes back
// after little wasted sending.
const ReadingsChunk = 512

// RegisterDevice registers a sensor that feeds one of the holder's
// device-fed collections, with its public key (device.Key.Public). Device
// ids are ledger-wide and never reused: a taken id is AlreadyExists.
func (c *Client) RegisterDevice(ctx context.Context, req *zkv1.RegisterDeviceRequest) (*zkv1.RegisterDeviceResponse, error) {
	resp, err := c.holder.RegisterDevice(ctx, req)
	return resp, wrap("register device "+req.GetId(), err)
}

// RevokeDevice stops a device's attestations; its readings so far stay in
// the collection's tree.
func (c *Client) RevokeDevice(ctx context.Context, id string) (*zkv1.RevokeDeviceResponse, error) {
	resp, err := c.holder.RevokeDevice(ctx, &zkv1.RevokeDeviceRequest{Id: id})
	return resp, wrap("revoke device "+id, err)
}

// EndorseDevice vouches for a device another holder operates, as the
// admin whose token the client carries.
func (c *Client) EndorseDevice(ctx context.Context, id string) (*zkv1.EndorseDeviceResponse, error) {
	resp, err := c.admin.EndorseDevice(ctx, &zkv1.EndorseDeviceRequest{Id: id})
	return resp, wrap("endorse device "+id, err)
}

// ListDevices lists the registered devices of collection (its full name,
// HOLDER/NAME, as GetCollection answers it), or every device when it is
// "", with their counters and gaps. It needs no token.
func (c *Client) ListDevices(ctx context.Context, collection string) ([]*zkv1.DeviceState, error) {
	if c.device == nil {
		return nil, errNoDevice("list devices")
	}
	resp, err := c.device.ListDevices(ctx, &zkv1.ListDevicesRequest{Collection: collection})
	if err != nil {
		return nil, wrap("list devices", err)
	}
	return resp.GetDevices(), nil
}

// SubmitReadings streams signed readings (sensor.Read makes them) in
// messages of at most ReadingsChunk, and waits until the ledger has
// attested them. It needs no token: each attestation carries its device's
// signature. The first refused reading ends the call with an error naming
// it (readings[i]); every reading before it is attested, none after it:
// resend from there once the cause is fixed. WithProgress reports the
// readings sent so far.
func (c *Client) SubmitReadings(ctx context.Context, readings iter.Seq[*zkv1.Reading], opts ...CallOption) (*zkv1.SubmitReadingsResponse, error) {
	if c.device == nil {
		return nil, errNoDevice("submit readings")
	}
	cfg := callOptions(opts)
	stream, err := c.device.SubmitReadings(ctx)
	if err != nil {
		return nil, wrap("submit readings", err)
	}
	sent := 0
	msg := &zkv1.SubmitReadingsRequest{}
	flush := func() bool {
		if err := stream.Send(msg); err != nil {
			return false // CloseAndReceive says why
		}
		sent += len(msg.Readings)
		cfg.progress(sent, 0)
		msg = &zkv1.SubmitReadingsRequest{}
		return true
	}
	ok := true
	if readings == nil {
		readings = func(func(*zkv1.Reading) bool) {}
	}
	for r := range readings {
		if ctx.Err() != nil {
			ok = false // CloseAndReceive reports the cancellation
			break
		}
		if msg.Readings = append(msg.Readings, r); len(msg.Readings) >= ReadingsChunk {
			if ok = flush(); !ok {
				break
			}
		}
	}
	if ok && len(msg.Readings) > 0 {
		flush()
	}
	resp, err := stream.CloseAndReceive()
	if err != nil {
		return nil, wrap(fmt.Sprintf("submit readings (%d sent)", sent), err)
	}
	return resp, nil
}

// errNoDevice: a Client made by Wrap has no DeviceService client.
func errNoDevice(call string) error {
	return fmt.Errorf("%w: %s: a Client made by Wrap has no DeviceService client (use New)", ErrOptions, call)
}
