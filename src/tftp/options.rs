//! Option negotiation (RFC 2347): blksize (RFC 2348), timeout and tsize
//! (RFC 2349), windowsize (RFC 7440).
//!
//! The server acknowledges in an OACK only the options it accepts, with the
//! values it will use; anything it does not know, or whose value is out of
//! the RFC's range, is left out, and the client then uses the default for
//! it. If no option is accepted there is no OACK and DATA 1 answers the
//! request, as to a client without options (RFC 2347 section "Negotiation
//! Protocol": options the server does not support are omitted from the
//! OACK).

use std::time::Duration;

use super::packet::Mode;

/// Default block size (RFC 1350).
pub const DEFAULT_BLKSIZE: u16 = 512;
/// Largest block size RFC 2348 allows: 65535 less the IP and UDP headers.
pub const MAX_BLKSIZE: u16 = 65464;
/// Smallest block size RFC 2348 allows.
pub const MIN_BLKSIZE: u16 = 8;

/// The server's limits for the negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest block size granted (a client asking for more gets this);
    /// clamped to 8..=65464.
    pub max_blksize: u16,
    /// Largest window granted (RFC 7440 allows 1..=65535).
    pub max_windowsize: u16,
    /// Retransmission timeout when the client does not ask for one.
    pub default_timeout: Duration,
}

/// What a transfer uses, and the OACK that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub blksize: u16,
    pub windowsize: u16,
    pub timeout: Duration,
    /// The accepted options with their values, in the client's order;
    /// empty means no OACK is sent.
    pub oack: Vec<(&'static str, String)>,
}

/// Negotiates `requested` (names as the client sent them) for a file of
/// `len` bytes sent in `mode`.
pub fn negotiate(requested: &[(&str, &str)], mode: Mode, len: u64, limits: &Limits) -> Negotiated {
    let mut n = Negotiated {
        blksize: DEFAULT_BLKSIZE,
        windowsize: 1,
        timeout: limits.default_timeout,
        oack: Vec::new(),
    };
    let max_blksize = limits.max_blksize.clamp(MIN_BLKSIZE, MAX_BLKSIZE);
    let max_windowsize = limits.max_windowsize.max(1);
    for &(name, value) in requested {
        let Some(name) = KNOWN.iter().copied().find(|k| k.eq_ignore_ascii_case(name)) else {
            continue;
        };
        // The first occurrence of an option counts.
        if n.oack.iter().any(|(k, _)| *k == name) {
            continue;
        }
        let Ok(v) = value.trim().parse::<u64>() else {
            continue;
        };
        let accepted = match name {
            // RFC 2348: 8..=65464; a server may answer with a smaller one.
            "blksize" if v >= u64::from(MIN_BLKSIZE) => {
                n.blksize = clamp_u16(v, max_blksize);
                Some(n.blksize.to_string())
            }
            // RFC 2349: 1..=255 seconds, acknowledged unchanged.
            "timeout" if (1..=255).contains(&v) => {
                n.timeout = Duration::from_secs(v);
                Some(v.to_string())
            }
            // RFC 2349: the size in octets. A netascii transfer's size is
            // only known once converted, so the option is left out then.
            "tsize" if mode == Mode::Octet => Some(len.to_string()),
            // RFC 7440: 1..=65535; a server may answer with a smaller one.
            "windowsize" if v >= 1 => {
                n.windowsize = clamp_u16(v, max_windowsize);
                Some(n.windowsize.to_string())
            }
            _ => None,
        };
        if let Some(value) = accepted {
            n.oack.push((name, value));
        }
    }
    n
}

const KNOWN: [&str; 4] = ["blksize", "timeout", "tsize", "windowsize"];

fn clamp_u16(v: u64, max: u16) -> u16 {
    u16::try_from(v).map_or(max, |v| v.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_blksize: 1468,
        max_windowsize: 16,
        default_timeout: Duration::from_secs(1),
    };

    fn oack(n: &Negotiated) -> Vec<(&str, &str)> {
        n.oack.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    #[test]
    fn no_options_no_oack() {
        let n = negotiate(&[], Mode::Octet, 10, &LIMITS);
        assert_eq!(n.blksize, 512);
        assert_eq!(n.windowsize, 1);
        assert_eq!(n.timeout, Duration::from_secs(1));
        assert!(n.oack.is_empty());
    }

    #[test]
    fn all_four_accepted_in_client_order() {
        let n = negotiate(
            &[
                ("WindowSize", "8"),
                ("tsize", "0"),
                ("BLKSIZE", "1428"),
                ("timeout", "3"),
            ],
            Mode::Octet,
            123_456,
            &LIMITS,
        );
        assert_eq!((n.blksize, n.windowsize), (1428, 8));
        assert_eq!(n.timeout, Duration::from_secs(3));
        assert_eq!(
            oack(&n),
            vec![
                ("windowsize", "8"),
                ("tsize", "123456"),
                ("blksize", "1428"),
                ("timeout", "3")
            ]
        );
    }

    #[test]
    fn clamped_to_limits() {
        let n = negotiate(
            &[("blksize", "65464"), ("windowsize", "65535")],
            Mode::Octet,
            0,
            &LIMITS,
        );
        assert_eq!(oack(&n), vec![("blksize", "1468"), ("windowsize", "16")]);
        // Values beyond u16 are clamped, not wrapped.
        let n = negotiate(
            &[("blksize", "4294967304"), ("windowsize", "65537")],
            Mode::Octet,
            0,
            &LIMITS,
        );
        assert_eq!((n.blksize, n.windowsize), (1468, 16));
        // A server limit outside the RFC's range is itself clamped.
        let wide = Limits {
            max_blksize: u16::MAX,
            max_windowsize: 0,
            ..LIMITS
        };
        let n = negotiate(
            &[("blksize", "65535"), ("windowsize", "4")],
            Mode::Octet,
            0,
            &wide,
        );
        assert_eq!((n.blksize, n.windowsize), (65464, 1));
    }

    #[test]
    fn out_of_range_and_garbage_are_ignored() {
        let n = negotiate(
            &[
                ("blksize", "7"),
                ("timeout", "0"),
                ("timeout", "256"),
                ("windowsize", "0"),
                ("blksize", "-1"),
                ("blksize", ""),
                ("multicast", "1"),
                ("tsize", "x"),
            ],
            Mode::Octet,
            5,
            &LIMITS,
        );
        assert!(n.oack.is_empty(), "{:?}", n.oack);
        assert_eq!((n.blksize, n.windowsize), (512, 1));
    }

    #[test]
    fn first_occurrence_wins() {
        let n = negotiate(
            &[("blksize", "1024"), ("blksize", "64")],
            Mode::Octet,
            0,
            &LIMITS,
        );
        assert_eq!(oack(&n), vec![("blksize", "1024")]);
        assert_eq!(n.blksize, 1024);
    }

    #[test]
    fn tsize_not_offered_for_netascii() {
        let n = negotiate(
            &[("tsize", "0"), ("blksize", "8")],
            Mode::Netascii,
            99,
            &LIMITS,
        );
        assert_eq!(oack(&n), vec![("blksize", "8")]);
    }
}
