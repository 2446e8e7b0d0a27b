//! One read transfer, on its own UDP socket connected to the client (the
//! server's "transfer identifier", RFC 1350 section 4).
//!
//! The sender keeps a window of `windowsize` blocks in flight (RFC 7440;
//! a window of 1 is RFC 1350's lock-step): it sends blocks `acked + 1 ..=
//! acked + windowsize`, and an ACK of block `k` in that range starts the
//! next window at `k + 1`, which resends whatever the client did not get
//! in order. Without an ACK within the timeout the window is sent again,
//! up to `retries` times in a row, the wait doubling each time (see
//! [`backoff`]). A repeated ACK of the last acknowledged
//! block is ignored in lock-step (RFC 1123 section 4.2.3.1, the Sorcerer's
//! Apprentice bug) and, with a wider window, means the window's first block
//! was lost (RFC 7440 section 4), so the window is sent again.
//!
//! Blocks are numbered with 64 bits inside and sent modulo 65536: after
//! block 65535 comes block 0, which is what tftp-hpa, atftp, iPXE and
//! U-Boot expect.

use std::collections::VecDeque;
use std::io;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use thiserror::Error;

use super::blocks::{Blocks, Cursor};
use super::options::Negotiated;
use super::packet::{self, ErrorCode, Packet, PacketError};

/// Receive buffer: an ACK is 4 bytes, an ERROR a message of any length
/// (one cut short here reads as malformed).
const RECV_BUF: usize = 1024;

/// Longest wait between two looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(200);

/// Why a transfer ended early.
#[derive(Debug, Error)]
pub enum TransferError {
    #[error("no ACK for block {block} after {retries} retransmissions")]
    TimedOut { block: u64, retries: u32 },
    /// The last block went out but its ACK never came: the client most
    /// likely has the whole file and has gone.
    #[error("no ACK for the last block {0} (the client probably has the file)")]
    LastAckLost(u64),
    #[error("the client sent error {code}: {message}")]
    ClientError { code: ErrorCode, message: String },
    #[error("the client sent an invalid packet: {0}")]
    Malformed(PacketError),
    #[error("the client sent an unexpected {0} packet")]
    Unexpected(&'static str),
    #[error("cannot read the file: {0}")]
    Read(io::Error),
    #[error("network error: {0}")]
    Net(io::Error),
    #[error("the server is stopping")]
    Stopped,
}

/// Figures of a finished transfer, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Blocks in the file (the last one short).
    pub blocks: u64,
    /// DATA and OACK packets sent again after a timeout or a gap.
    pub resent: u64,
}

/// A transfer ready to run.
pub struct Transfer {
    socket: UdpSocket,
    blocks: Blocks,
    negotiated: Negotiated,
    retries: u32,
    stop: Arc<AtomicBool>,
}

/// What waiting for an ACK gave.
enum Wait {
    /// An ACK of a block in flight: everything up to it has arrived.
    Acked(u64),
    /// The ACK of the block before the window, again.
    Repeated,
    /// Nothing in time.
    Timeout,
}

impl Transfer {
    /// `socket` must be connected to the client.
    pub fn new(
        socket: UdpSocket,
        blocks: Blocks,
        negotiated: Negotiated,
        retries: u32,
        stop: Arc<AtomicBool>,
    ) -> Transfer {
        Transfer {
            socket,
            blocks,
            negotiated,
            retries,
            stop,
        }
    }

    /// Runs the transfer to its end. On an error the client is sent an
    /// ERROR packet when it should hear of it.
    pub fn run(mut self) -> Result<Summary, TransferError> {
        let r = self.send_all();
        let notice = match &r {
            Ok(_) | Err(TransferError::ClientError { .. } | TransferError::Net(_)) => None,
            Err(TransferError::LastAckLost(_)) => None,
            Err(TransferError::TimedOut { .. }) => Some((ErrorCode::NotDefined, "timed out")),
            Err(TransferError::Malformed(_)) => {
                Some((ErrorCode::IllegalOperation, "invalid packet"))
            }
            Err(TransferError::Unexpected(_)) => {
                Some((ErrorCode::IllegalOperation, "only ACK or ERROR expected"))
            }
            Err(TransferError::Read(_)) => Some((ErrorCode::NotDefined, "cannot read the file")),
            Err(TransferError::Stopped) => Some((ErrorCode::NotDefined, "server shutting down")),
        };
        if let Some((code, message)) = notice {
            let _ = self.socket.send(&packet::error(code, message));
        }
        r
    }

    fn send_all(&mut self) -> Result<Summary, TransferError> {
        let mut resent = 0;
        if !self.negotiated.oack.is_empty() {
            resent += self.send_oack()?;
        }
        let window = u64::from(self.negotiated.windowsize);
        let blksize = self.blocks.blksize();
        // cursors[i] is where block `acked + 1 + i` starts.
        let mut cursors = VecDeque::from([Cursor::default()]);
        let mut acked: u64 = 0;
        let mut last: Option<u64> = None;
        let mut payload = Vec::with_capacity(blksize);
        let mut datagram = Vec::with_capacity(packet::DATA_HEADER + blksize);
        let mut highest_sent = 0;
        let mut timeouts = 0;
        loop {
            // Send the window.
            let mut sent_to = acked;
            for k in acked + 1..=acked + window {
                let i = (k - acked - 1) as usize;
                let next = self
                    .blocks
                    .fill(cursors[i], &mut payload)
                    .map_err(TransferError::Read)?;
                if cursors.len() == i + 1 {
                    cursors.push_back(next);
                }
                if payload.len() < blksize {
                    last = Some(k);
                }
                let mut header = [0; packet::DATA_HEADER];
                packet::data_header(k as u16, &mut header);
                datagram.clear();
                datagram.extend_from_slice(&header);
                datagram.extend_from_slice(&payload);
                self.socket.send(&datagram).map_err(TransferError::Net)?;
                if k <= highest_sent {
                    resent += 1;
                }
                highest_sent = highest_sent.max(k);
                sent_to = k;
                if last == Some(k) {
                    break;
                }
            }
            // Wait for the client to say how far it got.
            match self.wait_ack(acked, sent_to, backoff(self.negotiated.timeout, timeouts))? {
                Wait::Acked(k) => {
                    cursors.drain(..(k - acked) as usize);
                    acked = k;
                    timeouts = 0;
                    if last == Some(acked) {
                        return Ok(Summary {
                            blocks: acked,
                            resent,
                        });
                    }
                }
                Wait::Repeated => {}
                Wait::Timeout => {
                    timeouts += 1;
                    if timeouts > self.retries {
                        return Err(if last == Some(sent_to) && sent_to == acked + 1 {
                            TransferError::LastAckLost(sent_to)
                        } else {
                            TransferError::TimedOut {
                                block: acked + 1,
                                retries: self.retries,
                            }
                        });
                    }
                }
            }
        }
    }

    /// Sends the OACK until the client acknowledges it with ACK 0 (RFC
    /// 2347); returns the number of times it was sent again.
    fn send_oack(&mut self) -> Result<u64, TransferError> {
        let oack = packet::oack(&self.negotiated.oack);
        for attempt in 0..=self.retries {
            self.socket.send(&oack).map_err(TransferError::Net)?;
            let deadline = Instant::now() + backoff(self.negotiated.timeout, attempt);
            let mut buf = [0u8; RECV_BUF];
            while let Some(n) = self.recv(&mut buf, deadline)? {
                match Packet::parse(&buf[..n]) {
                    Ok(Packet::Ack(0)) => return Ok(u64::from(attempt)),
                    Ok(Packet::Ack(_)) => {}
                    other => return Err(unexpected(other)),
                }
            }
        }
        Err(TransferError::TimedOut {
            block: 0,
            retries: self.retries,
        })
    }

    /// Waits for an ACK while blocks `acked + 1 ..= sent_to` are in flight.
    fn wait_ack(
        &mut self,
        acked: u64,
        sent_to: u64,
        timeout: Duration,
    ) -> Result<Wait, TransferError> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; RECV_BUF];
        while let Some(n) = self.recv(&mut buf, deadline)? {
            match Packet::parse(&buf[..n]) {
                Ok(Packet::Ack(wire)) => {
                    // The one block number in acked..=sent_to sent as
                    // `wire`: the window is at most 65535 blocks, so the
                    // range never holds two with the same 16-bit number.
                    let ahead = u64::from(wire.wrapping_sub(acked as u16));
                    if ahead == 0 && self.negotiated.windowsize > 1 {
                        return Ok(Wait::Repeated);
                    }
                    if ahead >= 1 && ahead <= sent_to - acked {
                        return Ok(Wait::Acked(acked + ahead));
                    }
                    // An old or repeated ACK: keep waiting.
                }
                other => return Err(unexpected(other)),
            }
        }
        Ok(Wait::Timeout)
    }

    /// Receives one datagram before `deadline`; `None` when it passes.
    fn recv(&self, buf: &mut [u8], deadline: Instant) -> Result<Option<usize>, TransferError> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Err(TransferError::Stopped);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let wait = (deadline - now).clamp(Duration::from_millis(1), STOP_POLL);
            self.socket
                .set_read_timeout(Some(wait))
                .map_err(TransferError::Net)?;
            match self.socket.recv(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(TransferError::Net(e)),
            }
        }
    }
}

/// The wait before the `n`th retransmission in a row: the timeout, doubled
/// each time up to [`MAX_BACKOFF`] times but not past [`BACKOFF_CEILING`]
/// (unless the timeout itself is longer). A client that answers a repeated
/// block with one extra ACK and then waits for its own timer (atftp does)
/// never hears from its timer while the server repeats faster than it; the
/// growing wait lets the timer fire and the client send its ACK again.
fn backoff(timeout: Duration, n: u32) -> Duration {
    let grown = timeout * (1u32 << n.min(MAX_BACKOFF.trailing_zeros()));
    grown.min(timeout.max(BACKOFF_CEILING))
}

/// Largest factor [`backoff`] applies (a power of two).
const MAX_BACKOFF: u32 = 8;

/// Longest wait [`backoff`] grows to.
const BACKOFF_CEILING: Duration = Duration::from_secs(8);

/// The error for anything but an ACK from the client.
fn unexpected(p: Result<Packet<'_>, PacketError>) -> TransferError {
    match p {
        Ok(Packet::Error { code, message }) => TransferError::ClientError {
            code,
            message: message.chars().take(255).collect(),
        },
        Ok(Packet::Rrq(_)) => TransferError::Unexpected("RRQ"),
        Ok(Packet::Wrq(_)) => TransferError::Unexpected("WRQ"),
        Ok(Packet::Data { .. }) => TransferError::Unexpected("DATA"),
        Ok(Packet::Oack(_)) => TransferError::Unexpected("OACK"),
        Ok(Packet::Ack(_)) => TransferError::Unexpected("ACK"),
        Err(e) => TransferError::Malformed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_ceiling() {
        let t = Duration::from_millis(250);
        let waits: Vec<_> = (0..6).map(|n| backoff(t, n).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 2000, 2000]);
        let secs = |t, n| backoff(Duration::from_secs(t), n).as_secs();
        assert_eq!([secs(1, 0), secs(1, 3), secs(1, 9)], [1, 8, 8]);
        assert_eq!([secs(3, 0), secs(3, 1), secs(3, 2)], [3, 6, 8]);
        // A long negotiated timeout is kept, not grown.
        assert_eq!([secs(255, 0), secs(255, u32::MAX)], [255, 255]);
    }
}
