// Package logging routes the loggers of zkshare's dependencies (gnark's
// zerolog, badger's printf logger) into log/slog, so nothing they print
// reaches stdout.
package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/consensys/gnark/logger"
	"github.com/rs/zerolog"
)

// Badger adapts slog to badger's Logger interface. badger's INFO chatter
// is logged at debug level.
type Badger struct{ L *slog.Logger }

func (b Badger) log(level slog.Level, format string, args ...any) {
	if b.L == nil || !b.L.Enabled(context.Background(), level) {
		return
	}
	b.L.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)), "component", "badger")
}

// Errorf implements badger.Logger.
func (b Badger) Errorf(f string, a ...any) { b.log(slog.LevelError, f, a...) }

// Warningf implements badger.Logger.
func (b Badger) Warningf(f string, a ...any) { b.log(slog.LevelWarn, f, a...) }

// Infof implements badger.Logger.
func (b Badger) Infof(f string, a ...any) { b.log(slog.LevelDebug, f, a...) }

// Debugf implements badger.Logger.
func (b Badger) Debugf(f string, a ...any) { b.log(slog.LevelDebug-4, f, a...) }

// QuietGnark sends gnark's logger to slog at debug level.
func QuietGnark(l *slog.Logger) {
	if l == nil {
		logger.Disable()
		return
	}
	logger.Set(zerolog.New(slogWriter{l}).Level(zerolog.DebugLevel))
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug(strings.TrimSpace(string(p)), "component", "gnark")
	return len(p), nil
}
