package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The first task to fail stops the others and is returned, named.
func TestTasksFirstFailureStopsAll(t *testing.T) {
	var logs bytes.Buffer
	ts := newTasks(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	stopped := make(chan struct{})
	ts.start("waiter", func(ctx context.Context) error {
		<-ctx.Done()
		close(stopped)
		return context.DeadlineExceeded // a drain that overran, after the failure
	})
	ts.start("listener", func(context.Context) error { return errors.New("boom") })
	done := make(chan error, 1)
	go func() { done <- ts.wait() }()
	select {
	case err := <-done:
		if err == nil || err.Error() != "listener: boom" {
			t.Errorf("wait = %v, want listener: boom", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failure did not stop the other tasks")
	}
	<-stopped
	if !strings.Contains(logs.String(), "stopping") {
		t.Errorf("the failure is not logged: %s", logs.String())
	}
}

// A shutdown asked through the context returns nil, even when a task
// fails while draining; the failure is logged.
func TestTasksShutdownReturnsNil(t *testing.T) {
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	ts := newTasks(ctx, slog.New(slog.NewTextHandler(&logs, nil)))
	ts.start("server", func(ctx context.Context) error {
		<-ctx.Done()
		return context.DeadlineExceeded
	})
	ts.start("feed", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err() // context.Canceled: not a failure
	})
	cancel()
	if err := ts.wait(); err != nil {
		t.Errorf("wait after shutdown = %v, want nil", err)
	}
	for _, want := range []string{"shutting down", "not everything drained", "server: context deadline exceeded"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q: %s", want, logs.String())
		}
	}
}
