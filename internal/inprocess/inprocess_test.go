package inprocess

import (
	"context"
	"testing"
)

func TestMark(t *testing.T) {
	if Is(context.Background()) {
		t.Fatal("unmarked context reported as in-process")
	}
	if !Is(With(context.Background())) {
		t.Fatal("marked context not reported as in-process")
	}
}
