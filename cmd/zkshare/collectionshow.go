package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protojson"
)

// cmdCollectionShow prints a collection as its node describes it: the
// anchored state, and on the holder's node what proofs read, whether a
// commit runs and what recovery did at the last start.
func cmdCollectionShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("collection show", stderr)
	r := remoteFlags(f)
	coll := f.String("collection", "", "collection name (NAME on its holder's node, or HOLDER/NAME)")
	asJSON := f.Bool("json", false, "print the collection as JSON")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if !r.on() || *coll == "" {
		return errors.New("collection show: want --server and --collection")
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	info, err := c.GetCollection(ctx, *coll)
	if err != nil {
		return fmt.Errorf("collection show: %w", err)
	}
	if *asJSON {
		b, err := protojson.MarshalOptions{Multiline: true}.Marshal(info)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(b))
		return err
	}
	fprintf(stdout, "collection %s (holder %s)\n  records: %d\n  root:    %x\n  anchor:  %d at height %d\n",
		info.GetName(), info.GetHolder(), info.GetRecordCount(), info.GetRoot(), info.GetAnchorSequence(), info.GetAnchorHeight())
	if p := info.GetProving(); p != nil {
		if p.GetAnchorSequence() == 0 {
			fprintf(stdout, "  proofs:  none yet (no anchored root that counts)\n")
		} else {
			fprintf(stdout, "  proofs:  read anchor %d (%d records, root %x), %d versions kept\n", p.GetAnchorSequence(), p.GetRecordCount(), p.GetRoot(), p.GetKeptVersions())
		}
		if p.GetCommitting() {
			fprintf(stdout, "  commit:  running (not visible until its root is anchored)\n")
		}
		if p.GetRecovery() != "" {
			fprintf(stdout, "  recovery: %s\n", p.GetRecovery())
		}
	}
	return nil
}
