//! Enough CBOR (RFC 8949) to read what a WebAuthn authenticator sends: the attestation object
//! and the credential public key (a COSE_Key, RFC 9052 §7). Definite lengths only (CTAP2's
//! canonical encoding, WebAuthn §6.5), bounded depth and sizes; anything else is an error.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Cbor>),
    Map(Vec<(Cbor, Cbor)>),
    Bool(bool),
    Null,
}

const MAX_DEPTH: usize = 8;
const MAX_ITEMS: u64 = 256;

impl Cbor {
    /// Decodes one item from the start of `data`; returns it and the bytes it took.
    pub fn decode(data: &[u8]) -> Result<(Cbor, usize), String> {
        let mut r = Reader { data, pos: 0 };
        let v = r.item(0)?;
        Ok((v, r.pos))
    }

    /// Decodes `data`, which must hold exactly one item.
    pub fn decode_all(data: &[u8]) -> Result<Cbor, String> {
        let (v, used) = Cbor::decode(data)?;
        if used != data.len() {
            return Err("trailing bytes after the CBOR item".into());
        }
        Ok(v)
    }

    /// The value under `key` in a map.
    pub fn get(&self, key: &Cbor) -> Option<&Cbor> {
        match self {
            Cbor::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn get_text(&self, key: &str) -> Option<&Cbor> {
        self.get(&Cbor::Text(key.to_string()))
    }

    pub fn get_int(&self, key: i64) -> Option<&Cbor> {
        self.get(&Cbor::Int(key))
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Cbor::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Cbor::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cbor::Text(t) => Some(t),
            _ => None,
        }
    }

    /// Encodes (for tests and the benchmark's software authenticator).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        fn head(out: &mut Vec<u8>, major: u8, n: u64) {
            let m = major << 5;
            match n {
                0..=23 => out.push(m | n as u8),
                24..=0xff => out.extend([m | 24, n as u8]),
                0x100..=0xffff => {
                    out.push(m | 25);
                    out.extend((n as u16).to_be_bytes());
                }
                0x1_0000..=0xffff_ffff => {
                    out.push(m | 26);
                    out.extend((n as u32).to_be_bytes());
                }
                _ => {
                    out.push(m | 27);
                    out.extend(n.to_be_bytes());
                }
            }
        }
        match self {
            Cbor::Int(i) if *i >= 0 => head(out, 0, *i as u64),
            Cbor::Int(i) => head(out, 1, (-1 - *i) as u64),
            Cbor::Bytes(b) => {
                head(out, 2, b.len() as u64);
                out.extend(b);
            }
            Cbor::Text(t) => {
                head(out, 3, t.len() as u64);
                out.extend(t.as_bytes());
            }
            Cbor::Array(items) => {
                head(out, 4, items.len() as u64);
                items.iter().for_each(|i| i.write(out));
            }
            Cbor::Map(entries) => {
                head(out, 5, entries.len() as u64);
                for (k, v) in entries {
                    k.write(out);
                    v.write(out);
                }
            }
            Cbor::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
            Cbor::Null => out.push(0xf6),
        }
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.data.len()).ok_or("truncated CBOR")?;
        let s = self.data.get(self.pos..end).ok_or("truncated CBOR")?;
        self.pos = end;
        Ok(s)
    }

    fn argument(&mut self, info: u8) -> Result<u64, String> {
        let be = |b: &[u8]| b.iter().fold(0u64, |a, x| (a << 8) | u64::from(*x));
        Ok(match info {
            0..=23 => u64::from(info),
            24 => be(self.take(1)?),
            25 => be(self.take(2)?),
            26 => be(self.take(4)?),
            27 => be(self.take(8)?),
            _ => return Err("indefinite lengths and reserved values are not accepted".into()),
        })
    }

    fn item(&mut self, depth: usize) -> Result<Cbor, String> {
        if depth > MAX_DEPTH {
            return Err("CBOR nested too deeply".into());
        }
        let first = *self.take(1)?.first().ok_or("truncated CBOR")?;
        let (major, info) = (first >> 5, first & 0x1f);
        let n = self.argument(info)?;
        let len = |n: u64| usize::try_from(n).map_err(|_| "CBOR length too large".to_string());
        Ok(match major {
            0 => Cbor::Int(i64::try_from(n).map_err(|_| "integer out of range")?),
            1 => Cbor::Int(-1 - i64::try_from(n).map_err(|_| "integer out of range")?),
            2 => Cbor::Bytes(self.take(len(n)?)?.to_vec()),
            3 => Cbor::Text(String::from_utf8(self.take(len(n)?)?.to_vec()).map_err(|_| "CBOR text is not UTF-8")?),
            4 if n <= MAX_ITEMS => Cbor::Array((0..n).map(|_| self.item(depth + 1)).collect::<Result<_, _>>()?),
            5 if n <= MAX_ITEMS => Cbor::Map(
                (0..n).map(|_| Ok((self.item(depth + 1)?, self.item(depth + 1)?))).collect::<Result<_, String>>()?,
            ),
            7 => match info {
                20 => Cbor::Bool(false),
                21 => Cbor::Bool(true),
                22 => Cbor::Null,
                _ => return Err("CBOR floats and simple values are not accepted".into()),
            },
            _ => return Err("CBOR tags and oversized collections are not accepted".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_it_does_not_read() {
        let v = Cbor::Map(vec![
            (Cbor::Int(1), Cbor::Int(2)),
            (Cbor::Int(-7), Cbor::Bytes(vec![1; 300])),
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Int(3), Cbor::Array(vec![Cbor::Bool(true), Cbor::Null, Cbor::Int(-257)])),
        ]);
        let bytes = v.encode();
        assert_eq!(Cbor::decode_all(&bytes).unwrap(), v);
        assert_eq!(v.get_int(-7).and_then(Cbor::as_bytes).map(<[u8]>::len), Some(300));
        // RFC 8949 Appendix A examples.
        assert_eq!(Cbor::decode_all(&[0x39, 0x01, 0x00]).unwrap(), Cbor::Int(-257));
        assert_eq!(Cbor::decode_all(&[0x64, 0x49, 0x45, 0x54, 0x46]).unwrap(), Cbor::Text("IETF".into()));
        assert!(Cbor::decode_all(&[0x5f, 0x41, 0x01, 0xff]).is_err(), "indefinite length");
        assert!(Cbor::decode_all(&[0xfa, 0, 0, 0, 0]).is_err(), "a float");
        assert!(Cbor::decode_all(&[0x59, 0xff]).is_err(), "truncated");
        assert!(Cbor::decode_all(&[0x01, 0x02]).is_err(), "trailing bytes");
        let deep: Vec<u8> = std::iter::repeat_n(0x81, 20).chain([0x01]).collect();
        assert!(Cbor::decode_all(&deep).is_err(), "too deep");
        assert!(Cbor::decode_all(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err(), "huge array");
    }
}
