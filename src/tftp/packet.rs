//! TFTP packets (RFC 1350 section 5, OACK from RFC 2347): decoding with
//! every length checked, and encoding into caller-owned buffers.
//!
//! ```text
//!  RRQ/WRQ  | 01/02 | filename | 0 | mode | 0 | opt1 | 0 | value1 | 0 | ...
//!  DATA     | 03    | block #  | data (0..=blksize bytes)
//!  ACK      | 04    | block #
//!  ERROR    | 05    | code     | message | 0
//!  OACK     | 06    | opt1 | 0 | value1 | 0 | ...
//! ```

use std::fmt;

use thiserror::Error;

/// Opcodes (RFC 1350 section 5; 6 is RFC 2347's OACK).
pub mod opcode {
    pub const RRQ: u16 = 1;
    pub const WRQ: u16 = 2;
    pub const DATA: u16 = 3;
    pub const ACK: u16 = 4;
    pub const ERROR: u16 = 5;
    pub const OACK: u16 = 6;
}

/// Most options a request may carry; a request is at most a few hundred
/// bytes in practice, this only bounds what a hostile one can make us keep.
pub const MAX_OPTIONS: usize = 16;

/// Error codes of an ERROR packet (RFC 1350 appendix; 8 is RFC 2347).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    NotDefined,
    FileNotFound,
    AccessViolation,
    DiskFull,
    IllegalOperation,
    UnknownTransferId,
    FileExists,
    NoSuchUser,
    OptionRefused,
    /// A code outside the table, as received.
    Other(u16),
}

impl ErrorCode {
    pub fn from_u16(code: u16) -> ErrorCode {
        match code {
            0 => ErrorCode::NotDefined,
            1 => ErrorCode::FileNotFound,
            2 => ErrorCode::AccessViolation,
            3 => ErrorCode::DiskFull,
            4 => ErrorCode::IllegalOperation,
            5 => ErrorCode::UnknownTransferId,
            6 => ErrorCode::FileExists,
            7 => ErrorCode::NoSuchUser,
            8 => ErrorCode::OptionRefused,
            n => ErrorCode::Other(n),
        }
    }

    pub fn to_u16(self) -> u16 {
        match self {
            ErrorCode::NotDefined => 0,
            ErrorCode::FileNotFound => 1,
            ErrorCode::AccessViolation => 2,
            ErrorCode::DiskFull => 3,
            ErrorCode::IllegalOperation => 4,
            ErrorCode::UnknownTransferId => 5,
            ErrorCode::FileExists => 6,
            ErrorCode::NoSuchUser => 7,
            ErrorCode::OptionRefused => 8,
            ErrorCode::Other(n) => n,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_u16())
    }
}

/// Transfer mode of a request (RFC 1350 section 1; "mail" is obsolete and
/// refused like any unknown mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bytes as they are.
    Octet,
    /// Text: line ends sent as CR LF, a bare CR as CR NUL (RFC 764).
    Netascii,
}

impl Mode {
    /// The mode's name as requests spell it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Octet => "octet",
            Mode::Netascii => "netascii",
        }
    }
}

/// A read or write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub filename: &'a str,
    pub mode: Mode,
    /// Option names and values in the order sent (RFC 2347); names are
    /// compared case-insensitively by the negotiation.
    pub options: Vec<(&'a str, &'a str)>,
}

/// One decoded packet; strings and data borrow from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    Rrq(Request<'a>),
    Wrq(Request<'a>),
    Data { block: u16, data: &'a [u8] },
    Ack(u16),
    Error { code: ErrorCode, message: &'a str },
    Oack(Vec<(&'a str, &'a str)>),
}

/// Why a datagram is not a valid packet. The text goes into the ERROR
/// packet (code 4) sent back.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PacketError {
    #[error("packet of {0} bytes is too short")]
    TooShort(usize),
    #[error("unknown opcode {0}")]
    UnknownOpcode(u16),
    #[error("{0} is not terminated by a zero byte")]
    Unterminated(&'static str),
    #[error("{0} is not valid UTF-8")]
    NotUtf8(&'static str),
    #[error("unsupported transfer mode {0:?}")]
    UnknownMode(String),
    #[error("option {0:?} has no value")]
    OptionWithoutValue(String),
    #[error("more than {MAX_OPTIONS} options")]
    TooManyOptions,
    #[error("{0} bytes after the end of an ACK or ERROR packet")]
    TrailingBytes(usize),
}

impl<'a> Packet<'a> {
    /// Decodes one datagram.
    pub fn parse(buf: &'a [u8]) -> Result<Packet<'a>, PacketError> {
        let (op, body) = match buf {
            [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
            _ => return Err(PacketError::TooShort(buf.len())),
        };
        match op {
            opcode::RRQ => Ok(Packet::Rrq(parse_request(body)?)),
            opcode::WRQ => Ok(Packet::Wrq(parse_request(body)?)),
            opcode::DATA => {
                let (block, data) = split_u16(body).ok_or(PacketError::TooShort(buf.len()))?;
                Ok(Packet::Data { block, data })
            }
            opcode::ACK => {
                let (block, rest) = split_u16(body).ok_or(PacketError::TooShort(buf.len()))?;
                if !rest.is_empty() {
                    return Err(PacketError::TrailingBytes(rest.len()));
                }
                Ok(Packet::Ack(block))
            }
            opcode::ERROR => {
                let (code, rest) = split_u16(body).ok_or(PacketError::TooShort(buf.len()))?;
                let mut fields = Fields(rest);
                let message = fields.next_str("error message")?;
                if !fields.0.is_empty() {
                    return Err(PacketError::TrailingBytes(fields.0.len()));
                }
                Ok(Packet::Error {
                    code: ErrorCode::from_u16(code),
                    message,
                })
            }
            opcode::OACK => Ok(Packet::Oack(parse_options(Fields(body))?)),
            other => Err(PacketError::UnknownOpcode(other)),
        }
    }
}

fn split_u16(buf: &[u8]) -> Option<(u16, &[u8])> {
    match buf {
        [a, b, rest @ ..] => Some((u16::from_be_bytes([*a, *b]), rest)),
        _ => None,
    }
}

/// Zero-terminated strings one after another.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn next_str(&mut self, what: &'static str) -> Result<&'a str, PacketError> {
        let end = self
            .0
            .iter()
            .position(|&b| b == 0)
            .ok_or(PacketError::Unterminated(what))?;
        let (field, rest) = self.0.split_at(end);
        self.0 = rest.get(1..).unwrap_or_default();
        std::str::from_utf8(field).map_err(|_| PacketError::NotUtf8(what))
    }
}

fn parse_request(body: &[u8]) -> Result<Request<'_>, PacketError> {
    let mut fields = Fields(body);
    let filename = fields.next_str("filename")?;
    let mode = fields.next_str("mode")?;
    let mode = if mode.eq_ignore_ascii_case("octet") {
        Mode::Octet
    } else if mode.eq_ignore_ascii_case("netascii") {
        Mode::Netascii
    } else {
        return Err(PacketError::UnknownMode(mode.chars().take(32).collect()));
    };
    let options = parse_options(fields)?;
    Ok(Request {
        filename,
        mode,
        options,
    })
}

fn parse_options(mut fields: Fields<'_>) -> Result<Vec<(&str, &str)>, PacketError> {
    let mut options = Vec::new();
    // Some clients pad requests with zero bytes: an empty name ends the list.
    while !fields.0.is_empty() && fields.0[0] != 0 {
        let name = fields.next_str("option name")?;
        let value = fields
            .next_str("option value")
            .map_err(|_| PacketError::OptionWithoutValue(name.chars().take(32).collect()))?;
        if options.len() == MAX_OPTIONS {
            return Err(PacketError::TooManyOptions);
        }
        options.push((name, value));
    }
    Ok(options)
}

/// Header length of a DATA packet; the payload follows.
pub const DATA_HEADER: usize = 4;

/// Writes a DATA header into `out[..4]` (the payload is written after it
/// by the caller).
pub fn data_header(block: u16, out: &mut [u8; DATA_HEADER]) {
    out[..2].copy_from_slice(&opcode::DATA.to_be_bytes());
    out[2..].copy_from_slice(&block.to_be_bytes());
}

/// An ACK packet; the server never sends one, the tests do.
#[cfg(test)]
pub fn ack(block: u16) -> [u8; 4] {
    let mut p = [0; 4];
    p[..2].copy_from_slice(&opcode::ACK.to_be_bytes());
    p[2..].copy_from_slice(&block.to_be_bytes());
    p
}

/// An ERROR packet. The message is cut to 255 bytes (at a character
/// boundary): clients print it, they do not need more.
pub fn error(code: ErrorCode, message: &str) -> Vec<u8> {
    let mut cut = message.len().min(255);
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    let message = message[..cut].replace('\0', " ");
    let mut p = Vec::with_capacity(5 + message.len());
    p.extend_from_slice(&opcode::ERROR.to_be_bytes());
    p.extend_from_slice(&code.to_u16().to_be_bytes());
    p.extend_from_slice(message.as_bytes());
    p.push(0);
    p
}

/// An OACK packet (RFC 2347) acknowledging `options`.
pub fn oack(options: &[(&str, String)]) -> Vec<u8> {
    let mut p = opcode::OACK.to_be_bytes().to_vec();
    for (name, value) in options {
        p.extend_from_slice(name.as_bytes());
        p.push(0);
        p.extend_from_slice(value.as_bytes());
        p.push(0);
    }
    p
}

/// A request packet; the server never sends one, the tests do.
#[cfg(test)]
pub fn request(op: u16, filename: &str, mode: &str, options: &[(&str, &str)]) -> Vec<u8> {
    let mut p = op.to_be_bytes().to_vec();
    for s in [filename, mode] {
        p.extend_from_slice(s.as_bytes());
        p.push(0);
    }
    for (n, v) in options {
        for s in [n, v] {
            p.extend_from_slice(s.as_bytes());
            p.push(0);
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrq_with_options() {
        let p = request(
            opcode::RRQ,
            "boot/x.efi",
            "OCTET",
            &[("blksize", "1428"), ("tsize", "0")],
        );
        let Packet::Rrq(r) = Packet::parse(&p).unwrap() else {
            panic!("not an RRQ");
        };
        assert_eq!(r.filename, "boot/x.efi");
        assert_eq!(r.mode, Mode::Octet);
        assert_eq!(r.options, vec![("blksize", "1428"), ("tsize", "0")]);
    }

    #[test]
    fn wrq_and_netascii() {
        let p = request(opcode::WRQ, "f", "netascii", &[]);
        let Packet::Wrq(r) = Packet::parse(&p).unwrap() else {
            panic!("not a WRQ");
        };
        assert_eq!(r.mode, Mode::Netascii);
        assert!(r.options.is_empty());
    }

    #[test]
    fn padded_request_is_accepted() {
        let mut p = request(opcode::RRQ, "f", "octet", &[("tsize", "0")]);
        p.extend_from_slice(&[0, 0, 0]);
        let Packet::Rrq(r) = Packet::parse(&p).unwrap() else {
            panic!("not an RRQ");
        };
        assert_eq!(r.options, vec![("tsize", "0")]);
    }

    #[test]
    fn malformed_requests() {
        assert_eq!(Packet::parse(&[]), Err(PacketError::TooShort(0)));
        assert_eq!(Packet::parse(&[0]), Err(PacketError::TooShort(1)));
        assert_eq!(
            Packet::parse(&[0, 9, 1, 2]),
            Err(PacketError::UnknownOpcode(9))
        );
        assert_eq!(
            Packet::parse(&[0, 1, b'f']),
            Err(PacketError::Unterminated("filename"))
        );
        assert_eq!(
            Packet::parse(b"\0\x01f\0octet"),
            Err(PacketError::Unterminated("mode"))
        );
        assert_eq!(
            Packet::parse(b"\0\x01f\0mail\0"),
            Err(PacketError::UnknownMode("mail".into()))
        );
        assert_eq!(
            Packet::parse(b"\0\x01\xff\0octet\0"),
            Err(PacketError::NotUtf8("filename"))
        );
        assert_eq!(
            Packet::parse(b"\0\x01f\0octet\0blksize\0"),
            Err(PacketError::OptionWithoutValue("blksize".into()))
        );
        assert_eq!(
            Packet::parse(b"\0\x01f\0octet\0blksize\x00512"),
            Err(PacketError::OptionWithoutValue("blksize".into()))
        );
        let many: Vec<(&str, &str)> = (0..=MAX_OPTIONS).map(|_| ("x", "1")).collect();
        assert_eq!(
            Packet::parse(&request(opcode::RRQ, "f", "octet", &many)),
            Err(PacketError::TooManyOptions)
        );
    }

    #[test]
    fn ack_data_error_oack() {
        assert_eq!(Packet::parse(&ack(65535)), Ok(Packet::Ack(65535)));
        assert_eq!(Packet::parse(&[0, 4, 0]), Err(PacketError::TooShort(3)));
        assert_eq!(
            Packet::parse(&[0, 4, 0, 1, 0]),
            Err(PacketError::TrailingBytes(1))
        );
        let mut d = [0u8; DATA_HEADER];
        data_header(7, &mut d);
        let mut p = d.to_vec();
        p.extend_from_slice(b"xyz");
        assert_eq!(
            Packet::parse(&p),
            Ok(Packet::Data {
                block: 7,
                data: b"xyz"
            })
        );
        assert_eq!(
            Packet::parse(&error(ErrorCode::FileNotFound, "no such file")),
            Ok(Packet::Error {
                code: ErrorCode::FileNotFound,
                message: "no such file"
            })
        );
        assert_eq!(
            Packet::parse(&[0, 5, 0, 1, b'x']),
            Err(PacketError::Unterminated("error message"))
        );
        let o = oack(&[("blksize", "1428".into()), ("tsize", "7".into())]);
        assert_eq!(
            Packet::parse(&o),
            Ok(Packet::Oack(vec![("blksize", "1428"), ("tsize", "7")]))
        );
    }

    #[test]
    fn error_message_is_bounded_and_terminated() {
        let long = "é".repeat(300);
        let p = error(ErrorCode::NotDefined, &long);
        assert!(p.len() <= 4 + 255 + 1);
        assert_eq!(p.last(), Some(&0));
        let Ok(Packet::Error { message, .. }) = Packet::parse(&p) else {
            panic!("not an ERROR");
        };
        assert!(message.chars().all(|c| c == 'é'));
        // An embedded NUL would end the message early on the client.
        assert_eq!(
            Packet::parse(&error(ErrorCode::NotDefined, "a\0b")),
            Ok(Packet::Error {
                code: ErrorCode::NotDefined,
                message: "a b"
            })
        );
    }

    #[test]
    fn every_short_prefix_is_an_error_not_a_panic() {
        let p = request(opcode::RRQ, "dir/file", "octet", &[("windowsize", "8")]);
        for n in 0..p.len() {
            let _ = Packet::parse(&p[..n]);
        }
        for op in 0..10u16 {
            for tail in [&[][..], &[0], &[0, 0], &[1, 2, 3]] {
                let mut b = op.to_be_bytes().to_vec();
                b.extend_from_slice(tail);
                let _ = Packet::parse(&b);
            }
        }
    }
}
