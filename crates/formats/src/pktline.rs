//! Git's pkt-line framing (`gitprotocol-common`): four hex digits of length
//! (the prefix included) and the payload, plus the special packets flush
//! (`0000`), delimiter (`0001`) and response-end (`0002`). Also the
//! side-band framing that multiplexes pack data, progress and errors.

use crate::error::FormatError;

/// The flush packet: ends a section.
pub const FLUSH: &[u8] = b"0000";

/// The largest packet git accepts, prefix included.
pub const MAX_PACKET_LEN: usize = 65520;

/// The most payload one side-band packet carries (the band byte takes one).
pub const MAX_SIDEBAND_DATA: usize = MAX_PACKET_LEN - 4 - 1;

/// The side-band channel of pack data or of the push report.
pub const BAND_DATA: u8 = 1;

/// The side-band channel of progress and messages (`remote: …` lines).
pub const BAND_PROGRESS: u8 = 2;

/// The side-band channel of a fatal error.
pub const BAND_ERROR: u8 = 3;

/// One packet read from a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// A payload.
    Data(&'a [u8]),
    /// `0000`.
    Flush,
    /// `0001`.
    Delimiter,
    /// `0002`.
    ResponseEnd,
}

impl<'a> Packet<'a> {
    /// The payload without its trailing newline, if this is a data packet.
    pub fn text(&self) -> Option<&'a [u8]> {
        match self {
            Self::Data(data) => Some(data.strip_suffix(b"\n").unwrap_or(data)),
            _ => None,
        }
    }
}

/// Appends one data packet holding `payload`, cut to the [`MAX_PACKET_LEN`]
/// - 4 bytes a packet can carry (so the framing stays intact).
pub fn write_packet(out: &mut Vec<u8>, payload: &[u8]) {
    let payload = &payload[..payload.len().min(MAX_PACKET_LEN - 4)];
    out.extend_from_slice(format!("{:04x}", payload.len() + 4).as_bytes());
    out.extend_from_slice(payload);
}

/// Appends `data` on side-band channel `band`, split into as many packets as needed.
pub fn write_sideband(out: &mut Vec<u8>, band: u8, data: &[u8]) {
    for piece in data.chunks(MAX_SIDEBAND_DATA) {
        out.extend_from_slice(format!("{:04x}", piece.len() + 5).as_bytes());
        out.push(band);
        out.extend_from_slice(piece);
    }
}

/// Reads packets from a byte slice, leaving whatever follows the last one
/// read (a pack, say) in [`PacketReader::rest`].
#[derive(Debug)]
pub struct PacketReader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> PacketReader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0 }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        &self.bytes[self.offset..]
    }

    /// The next packet; `None` at the end of the input.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'a>>, FormatError> {
        let rest = self.rest();
        if rest.is_empty() {
            return Ok(None);
        }
        let invalid = |reason: String| FormatError::InvalidGitObject { kind: "pkt-line", reason };
        let prefix = rest.get(..4).ok_or_else(|| invalid("truncated length prefix".into()))?;
        let text = std::str::from_utf8(prefix).map_err(|_| invalid(format!("bad length prefix {prefix:?}")))?;
        let len = usize::from_str_radix(text, 16).map_err(|_| invalid(format!("bad length prefix {text:?}")))?;
        let packet = match len {
            0 => Packet::Flush,
            1 => Packet::Delimiter,
            2 => Packet::ResponseEnd,
            3 => return Err(invalid("length 3 is reserved".into())),
            _ if len > MAX_PACKET_LEN => return Err(invalid(format!("packet of {len} bytes is too long"))),
            _ => {
                let payload = rest.get(4..len).ok_or_else(|| invalid(format!("truncated packet of {len} bytes")))?;
                self.offset += len;
                return Ok(Some(Packet::Data(payload)));
            }
        };
        self.offset += 4;
        Ok(Some(packet))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip() {
        let mut out = Vec::new();
        write_packet(&mut out, b"hello\n");
        out.extend_from_slice(FLUSH);
        out.extend_from_slice(b"0001PACK");
        let mut reader = PacketReader::new(&out);
        assert_eq!(reader.next_packet().unwrap(), Some(Packet::Data(b"hello\n")));
        assert_eq!(reader.next_packet().unwrap(), Some(Packet::Flush));
        assert_eq!(reader.next_packet().unwrap(), Some(Packet::Delimiter));
        assert_eq!(reader.rest(), b"PACK");
        assert_eq!(&out[..4], b"000a");
    }

    #[test]
    fn overlong_payloads_are_cut_to_one_packet() {
        let mut out = Vec::new();
        write_packet(&mut out, &vec![b'x'; MAX_PACKET_LEN * 2]);
        assert_eq!(out.len(), MAX_PACKET_LEN);
        let mut reader = PacketReader::new(&out);
        assert!(matches!(reader.next_packet().unwrap(), Some(Packet::Data(_))));
        assert!(reader.rest().is_empty());
    }

    #[test]
    fn bad_prefixes_are_errors() {
        for input in [&b"00"[..], b"zzzz", b"0003", b"0010abc", b"ffffxxxx"] {
            assert!(PacketReader::new(input).next_packet().is_err(), "{input:?}");
        }
    }

    #[test]
    fn sideband_splits_long_data() {
        let data = vec![7u8; MAX_SIDEBAND_DATA + 10];
        let mut out = Vec::new();
        write_sideband(&mut out, BAND_DATA, &data);
        let mut reader = PacketReader::new(&out);
        let Some(Packet::Data(first)) = reader.next_packet().unwrap() else { panic!() };
        assert_eq!(first.len(), MAX_SIDEBAND_DATA + 1);
        assert_eq!(first[0], BAND_DATA);
        let Some(Packet::Data(second)) = reader.next_packet().unwrap() else { panic!() };
        assert_eq!(second.len(), 11);
    }
}
