package shardmap

import (
	"maps"
	"testing"
)

// FuzzMap runs a sequence of operations, decoded from the input, against
// a Map of 4 shards of 3 entries and a model (one plain map per shard),
// checking after each that the Map holds what the model holds and never
// more than its capacity. Eviction picks a random sampled entry, so the
// model checks that exactly one entry went and that it was a least one.
func FuzzMap(f *testing.F) {
	f.Add([]byte{0, 1, 1, 0, 2, 2, 1, 1, 3, 5})
	f.Add([]byte{4, 1, 9, 4, 5, 3, 4, 9, 7, 5, 2, 0, 2, 2, 6, 0})
	f.Add([]byte{0, 0, 0, 0, 4, 4, 0, 8, 0, 12, 0, 16, 3, 1, 6, 7})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const shards, per = 4, 3
		m := New[uint64, uint8](shards, per, identity)
		model := make([]map[uint64]uint8, shards)
		for i := range model {
			model[i] = map[uint64]uint8{}
		}
		for len(ops) >= 2 {
			op, k := ops[0]%7, uint64(ops[1]%16)
			v := ops[1] >> 4
			ops = ops[2:]
			sh, want := m.Lock(k), model[k%shards]
			switch op {
			case 0: // insert with room made
				if _, ok := sh.Get(k); !ok {
					sh.Inserted()
					before := maps.Clone(sh.m)
					sh.MakeRoom(func(_ uint64, x uint8) bool { return x == 0 }, func(a, b uint8) bool { return a < b })
					syncRemoved(t, before, sh.m, want)
				}
				if !sh.Full() {
					sh.Put(k, v)
					want[k] = v
				}
			case 1:
				got, ok := sh.Get(k)
				if w, wok := want[k]; ok != wok || got != w {
					t.Fatalf("Get(%d) = %d, %v; model %d, %v", k, got, ok, w, wok)
				}
			case 2:
				sh.Delete(k)
				delete(want, k)
			case 3, 4: // queued insert, refused when full
				if _, ok := sh.Get(k); ok || !sh.Full() {
					sh.PutQueued(k, v)
					want[k] = v
				}
			case 5, 6:
				before := maps.Clone(sh.m)
				sh.Shed(func(x uint8) bool { return x <= v })
				for key, x := range before {
					if _, ok := sh.m[key]; !ok {
						if x > v {
							t.Fatalf("Shed(<= %d) removed %d=%d", v, key, x)
						}
						delete(want, key)
					}
				}
			}
			if !maps.Equal(sh.m, want) {
				t.Fatalf("shard %v, model %v", sh.m, want)
			}
			sh.Unlock()
			if m.Len() > m.Capacity() {
				t.Fatalf("%d entries, capacity %d", m.Len(), m.Capacity())
			}
		}
	})
}

// syncRemoved applies to the model what MakeRoom removed: dead entries
// (value 0) or one least-valued entry, nothing else.
func syncRemoved(t *testing.T, before, after map[uint64]uint8, model map[uint64]uint8) {
	t.Helper()
	var gone []uint64
	for k := range before {
		if _, ok := after[k]; !ok {
			gone = append(gone, k)
		}
	}
	if len(gone) > 1 {
		for _, k := range gone {
			if before[k] != 0 {
				t.Fatalf("sweep removed live %d=%d", k, before[k])
			}
		}
	}
	if len(before) >= 3 && len(gone) == 0 {
		t.Fatalf("MakeRoom on a full shard removed nothing: %v", before)
	}
	for _, k := range gone {
		delete(model, k)
	}
}
