// Package spool is the agent's on-disk queue of reports (bbolt, one file). A report gets its
// sequence number in the same transaction that stores it, so a sequence is never reused after a
// crash; it leaves the spool only when the collector acknowledged it as durably stored.
package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var (
	bucketReports = []byte("reports")
	bucketMeta    = []byte("meta")
	bucketReject  = []byte("rejected")
	keyLastSeq    = []byte("last_sequence")
	keyEvicted    = []byte("evicted")
	keyBytes      = []byte("pending_bytes")
)

// ErrCorrupt wraps any failure to open or read the spool file as a database.
var ErrCorrupt = errors.New("spool file is corrupt")

// ErrLocked means another process holds the spool (a second agent on the same state).
var ErrLocked = errors.New("spool is locked by another agent process")

// Spool is an open spool file.
type Spool struct {
	db       *bolt.DB
	maxBytes int64
}

// Entry is one spooled report.
type Entry struct {
	Sequence uint64
	Body     []byte
}

// Options tune a spool.
type Options struct {
	// MaxBytes caps the stored report bytes (default 256 MiB); the oldest reports are evicted
	// first and counted.
	MaxBytes int64
}

// Open opens or creates the spool at path.
func Open(path string, o Options) (*Spool, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 256 << 20
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w", path, ErrLocked)
	}
	if err != nil && isOSError(err) {
		// Permissions, a read-only or failing disk: the file may be fine, so it must not be
		// set aside (its reports would never be sent). The caller retries or reports it.
		return nil, fmt.Errorf("open spool %s: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrCorrupt, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketReports); err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketReject); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketMeta)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w: %v", path, ErrCorrupt, err)
	}
	return &Spool{db: db, maxBytes: o.MaxBytes}, nil
}

// isOSError says whether err comes from the operating system (open, lock, map, read) rather than
// from bbolt finding the file's content invalid.
func isOSError(err error) bool {
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
		return false
	}
	var pe *fs.PathError
	var errno syscall.Errno
	return errors.As(err, &pe) || errors.As(err, &errno)
}

// SetAside renames a corrupt spool file so that a new one can be created, keeping the old bytes
// for inspection. It returns the new name.
func SetAside(path string, now time.Time) (string, error) {
	dst := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405Z"))
	if err := os.Rename(path, dst); err != nil {
		return "", fmt.Errorf("set aside corrupt spool: %w", err)
	}
	return dst, nil
}

// OpenOrSetAside opens the spool; when the file is corrupt it sets it aside (its bytes are
// kept for inspection), logs why, and starts a new one. The caller must then raise the sequence
// floor from the collector (AdvanceSequence) before sending, which the runner's Sync does.
func OpenOrSetAside(path string, o Options, log *slog.Logger) (*Spool, error) {
	sp, err := Open(path, o)
	if !errors.Is(err, ErrCorrupt) {
		return sp, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	moved, merr := SetAside(path, time.Now())
	if merr != nil {
		return nil, fmt.Errorf("%v; and %w", err, merr)
	}
	log.Error("spool file was corrupt; set aside and starting a new one", "err", err, "kept_as", moved)
	return Open(path, o)
}

// Close closes the file.
func (s *Spool) Close() error { return s.db.Close() }

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func getUint(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// Add assigns the next sequence number, asks build for the encoded report carrying it, and
// stores it, all in one transaction: if build fails or the process dies, the sequence is not
// consumed and nothing is stored.
func (s *Spool) Add(build func(seq uint64) ([]byte, error)) (uint64, error) {
	var seq uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta, reps := tx.Bucket(bucketMeta), tx.Bucket(bucketReports)
		seq = getUint(meta, keyLastSeq) + 1
		body, err := build(seq)
		if err != nil {
			return err
		}
		if err := reps.Put(seqKey(seq), body); err != nil {
			return err
		}
		if err := meta.Put(keyBytes, seqKey(getUint(meta, keyBytes)+uint64(len(body)))); err != nil {
			return err
		}
		if err := meta.Put(keyLastSeq, seqKey(seq)); err != nil {
			return err
		}
		return s.evict(tx)
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// evict drops the oldest reports while the spool is over its cap, counting them. The running
// byte total lives in the meta bucket, so an Add costs the same with one report spooled or
// thousands (a laptop offline for days).
func (s *Spool) evict(tx *bolt.Tx) error {
	reps, meta := tx.Bucket(bucketReports), tx.Bucket(bucketMeta)
	total := getUint(meta, keyBytes)
	var evicted uint64
	c := reps.Cursor()
	k, v := c.First()
	for ; k != nil && total > uint64(s.maxBytes); k, v = c.First() {
		if _, next := c.Next(); next == nil {
			break // never evict the newest report
		}
		total -= min(total, uint64(len(v)))
		if err := reps.Delete(k); err != nil {
			return err
		}
		evicted++
	}
	if err := meta.Put(keyBytes, seqKey(total)); err != nil {
		return err
	}
	if evicted == 0 {
		return nil
	}
	return meta.Put(keyEvicted, seqKey(getUint(meta, keyEvicted)+evicted))
}

// remove deletes a spooled report and takes its size off the running total.
func remove(tx *bolt.Tx, seq uint64) error {
	reps, meta := tx.Bucket(bucketReports), tx.Bucket(bucketMeta)
	v := reps.Get(seqKey(seq))
	if v == nil {
		return nil
	}
	total := getUint(meta, keyBytes)
	if err := meta.Put(keyBytes, seqKey(total-min(total, uint64(len(v))))); err != nil {
		return err
	}
	return reps.Delete(seqKey(seq))
}

// Pending returns up to limit reports in sequence order.
func (s *Spool) Pending(limit int) ([]Entry, error) {
	var out []Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketReports).Cursor()
		for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			if len(k) != 8 {
				return fmt.Errorf("%w: bad key", ErrCorrupt)
			}
			out = append(out, Entry{Sequence: binary.BigEndian.Uint64(k), Body: append([]byte(nil), v...)})
		}
		return nil
	})
	return out, err
}

// Ack removes an acknowledged report. Acknowledging an absent sequence is not an error.
func (s *Spool) Ack(seq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return remove(tx, seq)
	})
}

// Reject moves a report the collector refused as invalid out of the send queue into the
// rejected bucket, with the reason, so that one bad report cannot block every later one and
// its bytes are still there to inspect.
func (s *Spool) Reject(seq uint64, reason string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		reps := tx.Bucket(bucketReports)
		body := reps.Get(seqKey(seq))
		if body == nil {
			return nil
		}
		rec := append([]byte(reason+"\n"), body...)
		if err := tx.Bucket(bucketReject).Put(seqKey(seq), rec); err != nil {
			return err
		}
		return remove(tx, seq)
	})
}

// Stats describe the spool.
type Stats struct {
	Pending      int
	Bytes        int64
	LastSequence uint64
	Evicted      uint64
	Rejected     int
}

// Stats reads the spool's counters.
func (s *Spool) Stats() (Stats, error) {
	var st Stats
	err := s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		st.LastSequence, st.Evicted = getUint(meta, keyLastSeq), getUint(meta, keyEvicted)
		st.Rejected = tx.Bucket(bucketReject).Stats().KeyN
		st.Pending = tx.Bucket(bucketReports).Stats().KeyN
		st.Bytes = int64(getUint(meta, keyBytes))
		return nil
	})
	return st, err
}

// AdvanceSequence makes sure the next sequence is above seq: after a lost or corrupt spool, the
// collector's highest stored sequence is the floor, so new reports are never taken for replays.
func (s *Spool) AdvanceSequence(seq uint64) (bool, error) {
	advanced := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if getUint(meta, keyLastSeq) >= seq {
			return nil
		}
		advanced = true
		return meta.Put(keyLastSeq, seqKey(seq))
	})
	return advanced, err
}
