package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/zkshare/zkshare/holder"
	"github.com/zkshare/zkshare/internal/atrest"
	"github.com/zkshare/zkshare/internal/kv"
	"github.com/zkshare/zkshare/node/datadir"
)

// storeKeyFlag adds --encryption-key-file, the key of the holder store a
// command opens; with neither it nor $ZKSHARE_ENCRYPTION_KEY the store is
// plain.
func storeKeyFlag(f *flags) *string {
	return f.String("encryption-key-file", envOr("ZKSHARE_ENCRYPTION_KEY_FILE", ""),
		"read the holder store's encryption key from `FILE` (or $ZKSHARE_ENCRYPTION_KEY_FILE): 64 hex characters, only its owner may read it; make one with 'zkshare store keygen'. Default: the key itself in $"+atrest.EnvVar+", else none (a plain store)")
}

// storeKey is the holder store's key from --encryption-key-file or
// $ZKSHARE_ENCRYPTION_KEY (nil: none), and where it came from. The key is
// never logged; its source is.
func storeKey(file string, log *slog.Logger) (key []byte, from string, err error) {
	key, from, err = atrest.Load(file)
	if err != nil {
		return nil, "", err
	}
	if key != nil {
		log.Info("holder store encrypted at rest", "key_from", from)
	}
	return key, from, nil
}

// openHolder opens a data directory's holder store with its key from
// --encryption-key-file or $ZKSHARE_ENCRYPTION_KEY.
func openHolder(data, keyFile string, e *env) (*holder.Store, error) {
	key, from, err := storeKey(keyFile, e.log)
	if err != nil {
		return nil, err
	}
	var opts []holder.Option
	if key != nil {
		opts = append(opts, holder.WithEncryptionKey(key))
	}
	st, err := holder.Open(datadir.HolderStore(data), e.log, opts...)
	return st, keyHint(err, from)
}

// keyHint says, under a wrong-key error, where the key tried came from, or
// how to give one.
func keyHint(err error, from string) error {
	if !errors.Is(err, kv.ErrWrongKey) {
		return err
	}
	if from == "" {
		return fmt.Errorf("%w\nhint: give the store's key with --encryption-key-file FILE or $%s", err, atrest.EnvVar)
	}
	return fmt.Errorf("%w\nhint: the key tried came from %s", err, from)
}

// checkStoreKey checks, before a node opens anything, that key opens the
// holder store of data (if it has one yet): a node started with a wrong
// key or none fails before it touches its ledger or any other file.
func checkStoreKey(data string, key []byte, from string) error {
	return keyHint(kv.CheckKey(datadir.HolderStore(data), key), from)
}

func cmdStoreKeygen(_ context.Context, args []string, _, stderr io.Writer) error {
	f := newFlags("store keygen", stderr)
	out := f.String("out", "", "write the key to a new `FILE` only its owner can read (never overwritten)")
	if _, err := f.parse(args); err != nil {
		return helpOK(err)
	}
	if *out == "" || f.NArg() != 0 {
		return errors.New("store keygen: want --out FILE")
	}
	if err := atrest.Generate(*out); err != nil {
		return fmt.Errorf("store keygen: %w", err)
	}
	fprintf(stderr, "store key in %s: start the node (or a local command) with --encryption-key-file %s.\n"+
		"Keep a copy apart from the data directory: without the key the store cannot be read.\n", *out, *out)
	return nil
}

func cmdStoreRotateKey(_ context.Context, args []string, _, stderr io.Writer) error {
	f := newFlags("store rotate-key", stderr)
	data := f.String("data", envOr("ZKSHARE_DATA", "zkshare.d"), "node data directory")
	oldFile := storeKeyFlag(f)
	newFile := f.String("new-key-file", "", "the new key's `FILE` (from 'zkshare store keygen')")
	e, err := f.parse(args)
	if err != nil {
		return helpOK(err)
	}
	if *newFile == "" || f.NArg() != 0 {
		return errors.New("store rotate-key: want --new-key-file NEW (and the current key: --encryption-key-file OLD)")
	}
	oldKey, from, err := storeKey(*oldFile, e.log)
	if err != nil {
		return fmt.Errorf("store rotate-key: current key: %w", err)
	}
	if oldKey == nil {
		return fmt.Errorf("store rotate-key: want the current key (--encryption-key-file OLD or $%s); a plain store cannot be encrypted in place", atrest.EnvVar)
	}
	newKey, err := atrest.LoadFile(*newFile)
	if err != nil {
		return fmt.Errorf("store rotate-key: new key: %w", err)
	}
	dir := datadir.HolderStore(*data)
	if err := kv.RotateKey(dir, oldKey, newKey); err != nil {
		if errors.Is(err, kv.ErrLocked) {
			return fmt.Errorf("store rotate-key: %w: a running node holds the store; stop it, rotate, then start it with the new key", err)
		}
		return fmt.Errorf("store rotate-key: %w", keyHint(err, from))
	}
	e.log.Info("rotated the holder store's key", "store", dir)
	fprintf(stderr, "rotated the key of %s: start the node with --encryption-key-file %s.\n"+
		"The old key no longer opens this store (it still opens any copy made before).\n", dir, *newFile)
	return nil
}
