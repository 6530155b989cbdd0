package netns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A holder is netem's delay done in user space, for kernels without sch_netem: packets an
// iptables NFQUEUE rule sends to its queue are held here and given back to the kernel
// (accepted) once their time has come. Release times never go backwards, so the packets
// of a flow keep their order, as on a slow link; with jitter, each packet's delay is drawn
// in latency±jitter but never ends before the previous packet's. The holder only decides
// when a packet goes on: it copies no payload (meta-data copy mode), and the kernel keeps
// the packet meanwhile.
//
// The netlink protocol is nfnetlink_queue's (linux/netfilter/nfnetlink_queue.h), spoken
// directly: nothing in the Go module proxy reachable here serves a client for it.
type holder struct {
	fd      int
	queue   uint16
	latency time.Duration
	jitter  time.Duration
	rng     *rand.Rand

	arrived chan held
	stop    chan struct{}
	done    sync.WaitGroup
	lastID  atomic.Uint32 // the newest packet id seen
	count   atomic.Int64  // packets held so far
	sendMu  sync.Mutex
	closeMu sync.Once
}

type held struct {
	id  uint32
	due time.Time
}

// nfnetlink_queue's constants.
const (
	nfnlSubsysQueue      = 3
	nfqnlMsgPacket       = 0
	nfqnlMsgConfig       = 2
	nfqnlMsgVerdictBatch = 3

	nfqaPacketHdr      = 1
	nfqaVerdictHdr     = 2
	nfqaCfgCmd         = 1
	nfqaCfgParams      = 2
	nfqaCfgQueueMaxLen = 3
	nfqaCfgMask        = 4
	nfqaCfgFlags       = 5

	nfqnlCfgCmdBind = 1
	nfqnlCopyMeta   = 1
	nfqaCfgFGSO     = 1 << 2 // hand big (GSO) packets over whole: nothing here reads them
	nfAccept        = 1

	// holdMaxLen is how many packets the kernel keeps queued for one holder; beyond it, it
	// drops, as a full netem queue would. A second of a busy etcd link is a few thousand.
	holdMaxLen = 1 << 16
)

// openHolder binds queue in the network namespace at nsPath and starts holding what
// arrives on it. The seed draws the jitter.
func openHolder(nsPath string, queue uint16, latency, jitter time.Duration, seed uint64) (*holder, error) {
	fd, err := netlinkIn(nsPath)
	if err != nil {
		return nil, err
	}
	h := &holder{fd: fd, queue: queue, latency: latency, jitter: jitter,
		rng:     rand.New(rand.NewPCG(seed, uint64(queue))), // one stream per namespace
		arrived: make(chan held, 4096), stop: make(chan struct{})}
	cmd := []byte{nfqnlCfgCmdBind, 0, 0, unix.AF_INET}
	params := binary.BigEndian.AppendUint32(nil, 0xffff)
	params = append(params, nfqnlCopyMeta)
	maxLen := binary.BigEndian.AppendUint32(nil, holdMaxLen)
	flags := binary.BigEndian.AppendUint32(nil, nfqaCfgFGSO)
	for _, a := range [][]byte{
		attr(nfqaCfgCmd, cmd),
		append(append(attr(nfqaCfgParams, params), attr(nfqaCfgQueueMaxLen, maxLen)...),
			append(attr(nfqaCfgMask, flags), attr(nfqaCfgFlags, flags)...)...),
	} {
		if err := h.request(nfqnlMsgConfig, a, true); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("bind netfilter queue %d: %w", queue, err)
		}
	}
	h.done.Add(2)
	go h.receive()
	go h.release()
	return h, nil
}

// netlinkIn opens a netfilter netlink socket inside the namespace at nsPath: a socket
// belongs to the namespace of the thread that creates it, wherever it is used later.
func netlinkIn(nsPath string) (int, error) {
	fd, serr := -1, error(nil)
	if err := inNamespace(nsPath, func() {
		fd, serr = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	}); err != nil {
		return -1, err
	}
	if serr != nil {
		return -1, fmt.Errorf("netfilter netlink socket: %w", serr)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind netlink socket: %w", err)
	}
	// A big receive buffer, no error when it overflows anyway (a packet whose message was
	// lost is still released: verdicts are batches, "every id up to this one"), and a
	// timeout so the receiver notices stop.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_NO_ENOBUFS, 1)
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// attr is one netlink attribute, padded to four bytes.
func attr(typ uint16, data []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// request sends one nfnetlink_queue message of type msg with attrs; with ack it waits for
// the kernel's answer (and gives its error). Only called before the receiver starts, or
// without ack.
func (h *holder) request(msg uint16, attrs []byte, ack bool) error {
	flags := uint16(unix.NLM_F_REQUEST)
	if ack {
		flags |= unix.NLM_F_ACK
	}
	b := binary.NativeEndian.AppendUint32(nil, uint32(unix.NLMSG_HDRLEN+4+len(attrs)))
	b = binary.NativeEndian.AppendUint16(b, nfnlSubsysQueue<<8|msg)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, 0) // sequence
	b = binary.NativeEndian.AppendUint32(b, 0) // port id: the kernel's
	b = append(b, unix.AF_UNSPEC, 0)           // nfgenmsg: family, version
	b = binary.BigEndian.AppendUint16(b, h.queue)
	b = append(b, attrs...)
	h.sendMu.Lock()
	err := unix.Sendto(h.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	h.sendMu.Unlock()
	if err != nil || !ack {
		return err
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(h.fd, buf, 0)
		if err != nil {
			return fmt.Errorf("no answer from the kernel: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4 {
				if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
					return unix.Errno(-code)
				}
				return nil
			}
		}
	}
}

// receive reads the queue's packet messages and hands each packet, with its release time,
// to release.
func (h *holder) receive() {
	defer h.done.Done()
	defer close(h.arrived)
	buf := make([]byte, 1<<16)
	var last time.Time
	for {
		select {
		case <-h.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(h.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) {
				continue
			}
			return
		}
		now := time.Now()
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			if m.Header.Type != nfnlSubsysQueue<<8|nfqnlMsgPacket || len(m.Data) < 4 {
				continue
			}
			id, ok := packetID(m.Data[4:])
			if !ok {
				continue
			}
			due := now.Add(h.delay())
			if due.Before(last) {
				due = last // never overtake the packet before
			}
			last = due
			h.lastID.Store(id)
			h.count.Add(1)
			select {
			case h.arrived <- held{id, due}:
			case <-h.stop:
				return
			}
		}
	}
}

// delay is one packet's delay: latency, or a draw in latency±jitter.
func (h *holder) delay() time.Duration {
	if h.jitter <= 0 {
		return h.latency
	}
	return max(0, h.latency-h.jitter+time.Duration(h.rng.Int64N(int64(2*h.jitter)+1)))
}

// packetID finds NFQA_PACKET_HDR among a packet message's attributes.
func packetID(b []byte) (uint32, bool) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) & 0x3fff
		if l < 4 || l > len(b) {
			return 0, false
		}
		if typ == nfqaPacketHdr && l >= 8 {
			return binary.BigEndian.Uint32(b[4:]), true
		}
		b = b[min(len(b), (l+3)&^3):]
	}
	return 0, false
}

// release gives packets back at their time: one batch verdict accepts every packet up to
// the newest one due.
func (h *holder) release() {
	defer h.done.Done()
	var queue []held
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if len(queue) > 0 {
			timer.Reset(time.Until(queue[0].due))
		}
		select {
		case p, ok := <-h.arrived:
			if !ok {
				return
			}
			queue = append(queue, p)
			continue
		case <-timer.C:
		}
		now := time.Now()
		n := 0
		for n < len(queue) && !queue[n].due.After(now) {
			n++
		}
		if n > 0 {
			_ = h.accept(queue[n-1].id)
			queue = queue[n:]
		}
	}
}

// accept lets every queued packet up to id go on.
func (h *holder) accept(id uint32) error {
	v := binary.BigEndian.AppendUint32(nil, nfAccept)
	v = binary.BigEndian.AppendUint32(v, id)
	return h.request(nfqnlMsgVerdictBatch, attr(nfqaVerdictHdr, v), false)
}

// Held is how many packets went through the holder.
func (h *holder) Held() int64 { return h.count.Load() }

// Close stops holding and lets every packet still queued go on at once (the rule sending
// packets here must be gone first, or the ones after are dropped until it is).
func (h *holder) Close() {
	h.closeMu.Do(func() {
		close(h.stop)
		h.done.Wait()
		// Packets that reached the socket but were not read yet are queued in the kernel
		// too: read their ids so that the last verdict covers them.
		buf := make([]byte, 1<<16)
		for {
			n, _, err := unix.Recvfrom(h.fd, buf, unix.MSG_DONTWAIT)
			if err != nil {
				break
			}
			msgs, _ := syscall.ParseNetlinkMessage(buf[:n])
			for _, m := range msgs {
				if m.Header.Type == nfnlSubsysQueue<<8|nfqnlMsgPacket && len(m.Data) >= 4 {
					if id, ok := packetID(m.Data[4:]); ok {
						h.lastID.Store(id)
					}
				}
			}
		}
		if id := h.lastID.Load(); id != 0 {
			_ = h.accept(id)
		}
		unix.Close(h.fd)
	})
}
