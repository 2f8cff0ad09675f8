package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Why this file exists: google/nftables marks every message of a batch
// NLM_F_ACK (and rules also NLM_F_ECHO). The kernel handles the whole batch
// inside the sendmsg call and queues one ack per message, plus the echoed
// rules, on the sender's socket before userspace can read any of them. With
// the default receive buffer (rmem_default, 208 KiB) that overflows at a few
// hundred messages: the kernel drops the rest and the next recvmsg fails with
// ENOBUFS. The library then returns with the surviving replies still queued,
// so the next request on that socket reads them as its own answers and waits
// for replies that were dropped: the connection hangs.
//
// So the library only encodes batches here (through its test dialer, which
// hands over the serialised messages); they are sent on a socket of our own
// with no per-message ack or echo, only an ack for the last message. Errors
// are reported by the kernel whatever the flags, so a batch yields at most
// one reply per failing message plus that one ack, however large it is. It
// stays one transaction (one NFNL_MSG_BATCH_BEGIN … END, committed or
// aborted as a whole), as the spec requires.

// replyTimeout bounds the wait for the kernel's verdict on a batch. The
// kernel answers before sendmsg returns, so it is only reached if that ever
// stops being true.
const replyTimeout = 10 * time.Second

// maxElemBytes bounds the encoded elements of one NEWSETELEM message: they
// are nested in a single netlink attribute, whose length is 16 bits.
const maxElemBytes = 60000

// kernelError is a batch the kernel refused: retrying it cannot help.
type kernelError struct{ errs []error }

func (e *kernelError) Error() string   { return errors.Join(e.errs...).Error() }
func (e *kernelError) Unwrap() []error { return e.errs }

// encode returns the messages build queues on a Conn, wrapped in batch
// begin/end. It relies on nltest's contract (sent messages go to the func;
// a read with nothing pending asks the func for a reply), so an upgrade of
// google/nftables or mdlayher/netlink that changes it fails every kernel
// test here rather than silently.
func encode(build func(c *nftables.Conn) error) ([]netlink.Message, error) {
	var msgs []netlink.Message
	ack := []netlink.Message{{Header: netlink.Header{Type: netlink.Error}, Data: make([]byte, 4)}}
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		if req == nil {
			return ack, nil // Flush reading the ack of one message
		}
		msgs = append(msgs, req...)
		return nil, nil
	}))
	if err != nil {
		return nil, err
	}
	if err := build(c); err != nil {
		return nil, err
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	if len(msgs) < 3 {
		return nil, errors.New("encode batch: empty")
	}
	return msgs, nil
}

// commit encodes a batch and applies it. Every batch the package sends
// replaces a table (or deletes it), so sending it again is harmless: after a
// transport failure (send error, lost or missing replies) it is retried once
// on a new socket.
func (f *Firewall) commit(build func(c *nftables.Conn) error) error {
	msgs, err := encode(build)
	if err != nil {
		return err
	}
	err = f.send(msgs)
	var ke *kernelError
	if err != nil && !errors.As(err, &ke) && !errors.Is(err, errClosed) {
		err = f.send(msgs)
	}
	return err
}

// send transmits one batch and collects the kernel's answer. On any error
// the socket is closed, so no reply of a failed batch is ever read as the
// answer to a later one.
func (f *Firewall) send(msgs []netlink.Message) (err error) {
	defer func() {
		if err != nil && f.tx != nil {
			f.tx.Close()
			f.tx = nil
		}
	}()
	if !f.ns.IsOpen() {
		return errClosed
	}
	if f.tx == nil {
		if f.tx, err = dialTx(f.ns); err != nil {
			return err
		}
		f.txBuf = 0
	}
	size := 0
	for _, m := range msgs {
		size += nlmsgAlign(unix.NLMSG_HDRLEN + len(m.Data))
	}
	if err := f.growSendBuffer(size); err != nil {
		return err
	}
	// Marshalled here rather than by netlink.Conn.SendMessages, which
	// re-grows its buffer message by message (some 25 ms of an 8 MB batch).
	seq0 := f.seq + 1
	f.seq += uint32(len(msgs))
	buf := make([]byte, 0, size)
	last := len(msgs) - 2 // the final message before batch end
	for i, m := range msgs {
		fl := m.Header.Flags &^ (netlink.Acknowledge | unix.NLM_F_ECHO)
		if i == last {
			fl |= netlink.Acknowledge
		}
		n := unix.NLMSG_HDRLEN + len(m.Data)
		buf = binary.NativeEndian.AppendUint32(buf, uint32(n))
		buf = binary.NativeEndian.AppendUint16(buf, uint16(m.Header.Type))
		buf = binary.NativeEndian.AppendUint16(buf, uint16(fl))
		buf = binary.NativeEndian.AppendUint32(buf, seq0+uint32(i))
		buf = binary.NativeEndian.AppendUint32(buf, 0) // replies go to the socket's port anyway
		buf = append(buf, m.Data...)
		buf = append(buf, make([]byte, nlmsgAlign(n)-n)...)
	}
	rc, err := f.tx.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if cerr := rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return !errors.Is(serr, unix.EAGAIN)
	}); cerr != nil {
		serr = cerr
	}
	if serr != nil {
		return fmt.Errorf("send batch (%d messages, %d bytes): %w", len(msgs), size, serr)
	}
	return f.replies(msgs, seq0)
}

func nlmsgAlign(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

func dialTx(ns netns.NsHandle) (*netlink.Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: int(ns)})
	if err != nil {
		return nil, fmt.Errorf("nf_tables netlink: %w", err)
	}
	// Error replies then carry the failing message's header only (not the
	// whole message, up to 64 KiB) and the kernel's explanation.
	_ = c.SetOption(netlink.CapAcknowledge, true)
	_ = c.SetOption(netlink.ExtendedAcknowledge, true)
	return c, nil
}

// growSendBuffer makes room for a batch: netlink refuses (EMSGSIZE) a
// message larger than the socket's send buffer, and a batch is one message.
func (f *Firewall) growSendBuffer(size int) error {
	need := size + 64<<10
	if need <= f.txBuf || size < 128<<10 {
		return nil
	}
	rc, err := f.tx.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if cerr := rc.Control(func(fd uintptr) {
		// FORCE ignores wmem_max (needs CAP_NET_ADMIN, which nf_tables needs anyway).
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, need)
		if serr != nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, need)
		}
	}); cerr != nil {
		return cerr
	}
	if serr != nil {
		return fmt.Errorf("send buffer for a %d-byte batch: %w", size, serr)
	}
	f.txBuf = need
	return nil
}

// replies reads the answer to the batch msgs, sent with sequence numbers
// from seq0 on: error replies for failing messages, then the ack of the last
// message, or an error addressed to the batch itself when the commit fails.
func (f *Firewall) replies(msgs []netlink.Message, seq0 uint32) error {
	begin, last := seq0, seq0+uint32(len(msgs)-2)
	rc, err := f.tx.SyscallConn()
	if err != nil {
		return err
	}
	if err := f.tx.SetReadDeadline(time.Now().Add(replyTimeout)); err != nil {
		return err
	}
	buf := f.rxBuf
	if buf == nil {
		buf = make([]byte, 1<<17)
		f.rxBuf = buf
	}
	var kerrs []error
	nerr, lost, done := 0, false, false
	for !done || lost {
		n, rflags, err := recv(rc, buf, !lost)
		switch {
		case errors.Is(err, unix.ENOBUFS):
			// Replies were dropped; what is still queued says why.
			lost = true
			continue
		case lost && errors.Is(err, unix.EAGAIN):
			lostErr := fmt.Errorf("further replies lost (receive buffer full): %w", unix.ENOBUFS)
			if nerr == 0 {
				return lostErr
			}
			// Only errors fill the buffer, so the batch was refused.
			return &kernelError{append(kerrs, fmt.Errorf("%d errors read, %w", nerr, lostErr))}
		case err != nil:
			return fmt.Errorf("read batch reply: %w", err)
		case rflags&unix.MSG_TRUNC != 0:
			return fmt.Errorf("read batch reply: truncated %d-byte reply", n)
		}
		nms, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("read batch reply: %w", err)
		}
		for _, m := range nms {
			i := int(m.Header.Seq - seq0)
			if i < 0 || i >= len(msgs) || m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue // not a reply to this batch
			}
			if code := int32(binary.NativeEndian.Uint32(m.Data)); code != 0 {
				nerr++
				if len(kerrs) < 4 {
					kerrs = append(kerrs, fmt.Errorf("%s (message %d of %d): %w%s",
						msgName(msgs[i]), i, len(msgs), syscall.Errno(-code), extAck(m)))
				}
			}
			if m.Header.Seq == last || (m.Header.Seq == begin && nerr > 0) {
				done = true
			}
		}
	}
	if nerr > len(kerrs) {
		kerrs = append(kerrs, fmt.Errorf("and %d more errors", nerr-len(kerrs)))
	}
	if nerr > 0 {
		return &kernelError{kerrs}
	}
	return nil
}

// recv reads one datagram. wait: block until one arrives or the read
// deadline passes; otherwise return EAGAIN when none is queued.
func recv(rc syscall.RawConn, buf []byte, wait bool) (n, rflags int, err error) {
	read := func(fd uintptr) bool {
		n, _, rflags, _, err = unix.Recvmsg(int(fd), buf, nil, unix.MSG_DONTWAIT)
		return !wait || !errors.Is(err, unix.EAGAIN)
	}
	var cerr error
	if wait {
		cerr = rc.Read(read)
	} else {
		cerr = rc.Control(func(fd uintptr) { read(fd) })
	}
	if cerr != nil {
		if errors.Is(cerr, os.ErrDeadlineExceeded) {
			return 0, 0, fmt.Errorf("no reply from the kernel within %v: %w", replyTimeout, cerr)
		}
		return 0, 0, cerr
	}
	return n, rflags, err
}

// extAck returns the kernel's explanation carried by an extended ack, if any.
func extAck(m syscall.NetlinkMessage) string {
	if m.Header.Flags&unix.NLM_F_ACK_TLVS == 0 || len(m.Data) < 4+unix.NLMSG_HDRLEN {
		return ""
	}
	off := 4 + unix.NLMSG_HDRLEN
	if m.Header.Flags&unix.NLM_F_CAPPED == 0 {
		off = 4 + nlmsgAlign(int(binary.NativeEndian.Uint32(m.Data[4:])))
	}
	for off+4 <= len(m.Data) {
		l := int(binary.NativeEndian.Uint16(m.Data[off:]))
		typ := binary.NativeEndian.Uint16(m.Data[off+2:])
		if l < 4 || off+l > len(m.Data) {
			break
		}
		if typ == unix.NLMSGERR_ATTR_MSG {
			s := m.Data[off+4 : off+l]
			for len(s) > 0 && s[len(s)-1] == 0 {
				s = s[:len(s)-1]
			}
			return " (" + string(s) + ")"
		}
		off += nlmsgAlign(l)
	}
	return ""
}

func msgName(m netlink.Message) string {
	t := uint16(m.Header.Type)
	switch t {
	case unix.NFNL_MSG_BATCH_BEGIN:
		return "batch"
	case unix.NFNL_MSG_BATCH_END:
		return "batch end"
	}
	names := map[uint16]string{
		unix.NFT_MSG_NEWTABLE: "add table", unix.NFT_MSG_DELTABLE: "delete table",
		unix.NFT_MSG_NEWCHAIN: "add chain", unix.NFT_MSG_NEWRULE: "add rule",
		unix.NFT_MSG_NEWSET: "add set", unix.NFT_MSG_NEWSETELEM: "add set elements",
	}
	if s, ok := names[t&0xff]; ok {
		return s
	}
	return fmt.Sprintf("message type %#x", t)
}
