package verifier_test

import "log/slog"

type slogLogger = slog.Logger

var discard = slog.New(slog.DiscardHandler)
