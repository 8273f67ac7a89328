package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/sync/errgroup"
)

// starter runs a named task of the process in its errgroup.
type starter func(name string, task func(context.Context) error)

// tasks is the errgroup of a process: the first task to fail cancels the
// others' context.
type tasks struct {
	ctx    context.Context // the caller's: cancelled to ask for a shutdown
	gctx   context.Context // the tasks': also cancelled by the first failure
	eg     *errgroup.Group
	logger *slog.Logger
}

func newTasks(ctx context.Context, logger *slog.Logger) *tasks {
	eg, gctx := errgroup.WithContext(ctx)
	t := &tasks{ctx: ctx, gctx: gctx, eg: eg, logger: logger}
	eg.Go(func() error {
		<-gctx.Done()
		if ctx.Err() != nil {
			logger.Info("shutting down: draining in-flight requests")
		} else {
			logger.Error("stopping", "err", context.Cause(gctx))
		}
		return nil
	})
	return t
}

// start runs task with the tasks' context; its failure (not a
// cancellation) is named and stops the rest.
func (t *tasks) start(name string, task func(context.Context) error) {
	t.eg.Go(func() error {
		if err := task(t.gctx); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
}

// wait waits for every task and returns the first failure, or nil when
// the shutdown was asked through ctx before any failed (a drain that
// overran is then logged, not returned).
func (t *tasks) wait() error {
	err := t.eg.Wait()
	// errgroup cancels gctx with its first error, the very value Wait
	// returns, unless ctx was cancelled first.
	if err != nil && err != context.Cause(t.gctx) {
		t.logger.Warn("shutdown: not everything drained in time", "err", err)
		return nil
	}
	return err
}
