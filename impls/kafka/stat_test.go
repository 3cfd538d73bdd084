package kafka

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mqwal/mqwal/walimpls"
	"github.com/mqwal/mqwal/walimpls/helper"
)

func stat(t *testing.T, w walimpls.ROWALImpls) walimpls.ChannelStat {
	t.Helper()
	st, err := w.(walimpls.StatReader).Stat(context.Background())
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	return st
}

func offsetOf(id any) int64 {
	if id == nil {
		return -1
	}
	return id.(helper.Int64ID).Value()
}

// TestStat: what Stat reports of a channel, exactly: the fence records
// count as messages, the term comes from the log, the writer is known
// only in the opener that holds it, the bytes are the broker's.
func TestStat(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c, WithTopicPrefix("stat."))
	ch := channelName(t)
	w := open(t, o, ch, 3, walimpls.ReadWrite)
	fresh := stat(t, w)
	// The claim wrote a fence batch of two records at offsets 0 and 1.
	if fresh.Channel != ch || fresh.BackendName != "stat."+ch || offsetOf(fresh.First) != 0 || offsetOf(fresh.Last) != 1 ||
		fresh.Messages != 2 || fresh.Term != 3 || fresh.Writer != walimpls.WriterHeld || fresh.Bytes <= 0 {
		t.Fatalf("Stat of a freshly opened channel: %+v", fresh)
	}
	for range 3 {
		mustAppend(t, w, "0123456789", nil)
	}
	st := stat(t, w)
	if offsetOf(st.First) != 0 || offsetOf(st.Last) != 4 || st.Messages != 5 || st.Term != 3 || st.Bytes <= fresh.Bytes {
		t.Fatalf("Stat after three appends: %+v (fresh: %+v)", st, fresh)
	}

	// Another opener reads the same from the broker, but cannot tell
	// whether a writer holds the channel.
	o2 := newOpener(t, c, WithTopicPrefix("stat."))
	ro := open(t, o2, ch, 0, walimpls.ReadOnly)
	other := stat(t, ro)
	if other.Writer != walimpls.WriterUnknown {
		t.Errorf("Stat through another opener: Writer %v, want unknown", other.Writer)
	}
	other.Writer = st.Writer
	if other != st {
		t.Errorf("Stat through another opener = %+v, through the writer %+v", other, st)
	}

	// A higher term in another opener: this one's writer no longer holds
	// the channel's term.
	w2 := open(t, o2, ch, 4, walimpls.ReadWrite)
	if st := stat(t, w); st.Term != 4 || st.Writer != walimpls.WriterUnknown {
		t.Errorf("Stat after term 4 opened elsewhere, through term 3's WAL: %+v", st)
	}
	if st := stat(t, w2); st.Term != 4 || st.Writer != walimpls.WriterHeld {
		t.Errorf("Stat through term 4's WAL: %+v", st)
	}
	w2.Close()
	if st := stat(t, ro); st.Writer != walimpls.WriterUnknown {
		t.Errorf("Stat after term 4's WAL closed: %+v", st)
	}

	// ListChannels: the topics with the prefix, without it, sorted.
	open(t, o, "b-"+ch, 1, walimpls.ReadWrite)
	open(t, o, "a-"+ch, 1, walimpls.ReadWrite)
	open(t, newOpener(t, c, WithTopicPrefix("other.")), "c-"+ch, 1, walimpls.ReadWrite)
	names, err := o.(walimpls.ChannelLister).ListChannels(context.Background())
	want := []string{"a-" + ch, "b-" + ch, ch}
	slices.Sort(want)
	if err != nil || !slices.Equal(names, want) {
		t.Errorf("ListChannels = %q, %v; want %q", names, err, want)
	}
	o.Close()
	if _, err := o.(walimpls.ChannelLister).ListChannels(context.Background()); err == nil {
		t.Error("ListChannels of a closed opener succeeded")
	}
}

// TestStatAfterTruncate: Truncate of the newest message leaves the fence
// record it writes after it (the term stays in the log); once every
// record is deleted, there is no First or Last, no message, and the term
// is not in the log any more.
func TestStatAfterTruncate(t *testing.T) {
	c := startCluster(t)
	o := newOpener(t, c)
	w := open(t, o, channelName(t), 2, walimpls.ReadWrite)
	off := mustAppend(t, w, "x", nil)
	if err := w.Truncate(context.Background(), helper.NewInt64ID(Name, off)); err != nil {
		t.Fatalf("Truncate: %v", err)
	}
	if st := stat(t, w); offsetOf(st.First) != off+1 || offsetOf(st.Last) != off+1 || st.Messages != 1 || st.Term != 2 || st.Writer != walimpls.WriterHeld {
		t.Errorf("Stat after truncating the newest message: %+v", st)
	}
	topic := w.(*wal).topic
	if err := o.(*opener).client.deleteRecords(context.Background(), topic, off+2); err != nil {
		t.Fatal(err)
	}
	if st := stat(t, w); st.First != nil || st.Last != nil || st.Messages != 0 || st.Term != walimpls.Unknown || st.Writer != walimpls.WriterUnknown {
		t.Errorf("Stat of an emptied channel: %+v", st)
	}
}

// logDirsAnswer encodes resp as a broker sends it, without the size.
func logDirsAnswer(resp *kmsg.DescribeLogDirsResponse, corr int32) []byte {
	return resp.AppendTo(binary.BigEndian.AppendUint32(nil, uint32(corr)))
}

// TestDecodeLogDirsOfKmsgAnswers: the request is one kmsg reads as v1 for
// partition 0 of the topic; the answer's sizes of the topic's partition 0
// are summed over directories, other partitions, topics and future
// replicas left out; a failed directory or none holding it is Unknown.
func TestDecodeLogDirsOfKmsgAnswers(t *testing.T) {
	raw := encodeLogDirs(nil, logDirsVersion, 9, "mqwal", "t")
	r := wire{b: raw[4:]}
	if key, ver, corr, _ := r.int16(), r.int16(), r.int32(), r.string16(); key != 35 || ver != 1 || corr != 9 {
		t.Fatalf("header key %d version %d corr %d", key, ver, corr)
	}
	req := kmsg.DescribeLogDirsRequest{Version: 1}
	if err := req.ReadFrom(r.b); err != nil || len(req.Topics) != 1 || req.Topics[0].Topic != "t" || !slices.Equal(req.Topics[0].Partitions, []int32{0}) {
		t.Fatalf("kmsg reads %+v, %v", req, err)
	}

	part := func(p int32, size int64, future bool) kmsg.DescribeLogDirsResponseDirTopicPartition {
		rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		rp.Partition, rp.Size, rp.IsFuture = p, size, future
		return rp
	}
	topic := func(name string, ps ...kmsg.DescribeLogDirsResponseDirTopicPartition) kmsg.DescribeLogDirsResponseDirTopic {
		rt := kmsg.NewDescribeLogDirsResponseDirTopic()
		rt.Topic, rt.Partitions = name, ps
		return rt
	}
	resp := kmsg.NewPtrDescribeLogDirsResponse()
	resp.Version = 1
	d1 := kmsg.NewDescribeLogDirsResponseDir()
	d1.Dir = "/a"
	d1.Topics = []kmsg.DescribeLogDirsResponseDirTopic{topic("other", part(0, 1000, false)), topic("t", part(1, 100, false), part(0, 40, false))}
	d2 := kmsg.NewDescribeLogDirsResponseDir()
	d2.Dir = "/b"
	d2.Topics = []kmsg.DescribeLogDirsResponseDirTopic{topic("t", part(0, 7, true))}
	resp.Dirs = []kmsg.DescribeLogDirsResponseDir{d1, d2}
	if n, err := decodeLogDirs(logDirsAnswer(resp, 9), 9, "t"); err != nil || n != 40 {
		t.Errorf("decodeLogDirs = %d, %v; want 40", n, err)
	}
	if n, err := decodeLogDirs(logDirsAnswer(resp, 9), 9, "none"); err != nil || n != walimpls.Unknown {
		t.Errorf("decodeLogDirs of a topic no directory holds = %d, %v; want Unknown", n, err)
	}
	if _, err := decodeLogDirs(logDirsAnswer(resp, 9), 8, "t"); err == nil {
		t.Error("an answer for another correlation id was accepted")
	}
	body := logDirsAnswer(resp, 9)
	for cut := range len(body) {
		if _, err := decodeLogDirs(body[:cut], 9, "t"); err == nil {
			t.Fatalf("an answer cut to %d of %d bytes was accepted", cut, len(body))
		}
	}
	resp.Dirs[1].ErrorCode = 56 // KAFKA_STORAGE_ERROR
	if n, err := decodeLogDirs(logDirsAnswer(resp, 9), 9, "t"); err != nil || n != walimpls.Unknown {
		t.Errorf("decodeLogDirs with a failed directory = %d, %v; want Unknown", n, err)
	}
}

// FuzzDecodeLogDirs: whatever a broker answers, decodeLogDirs returns an
// error, Unknown or a size, and never panics.
func FuzzDecodeLogDirs(f *testing.F) {
	resp := kmsg.NewPtrDescribeLogDirsResponse()
	resp.Version = 1
	d := kmsg.NewDescribeLogDirsResponseDir()
	rt := kmsg.NewDescribeLogDirsResponseDirTopic()
	rt.Topic = "t"
	rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
	rp.Size = 12
	rt.Partitions = append(rt.Partitions, rp)
	d.Topics = append(d.Topics, rt)
	resp.Dirs = append(resp.Dirs, d)
	f.Add(logDirsAnswer(resp, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := decodeLogDirs(b, 1, "t")
		if err == nil && n < walimpls.Unknown {
			t.Fatalf("size %d", n)
		}
	})
}
