package pki

import (
	"testing"
	"time"
)

func TestSessionTicketKeys(t *testing.T) {
	dir := t.TempDir()
	ca, _, err := LoadOrCreate(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := LoadOrCreate(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := LoadOrCreate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key := func(ca *CA, day int64) [32]byte {
		k, err := ca.SessionTicketKey(day)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	if key(ca, 20000) != key(again, 20000) {
		t.Error("the same CA derives different keys")
	}
	if key(ca, 20000) == key(ca, 20001) || key(ca, 20000) == key(other, 20000) || key(ca, 20000) == [32]byte{} {
		t.Error("keys do not change with the day or the CA")
	}
}
