//! A small, fast, non-cryptographic hasher (the "Fx" hash of rustc) for the
//! in-memory maps of the graph and the checker, whose keys come from the
//! user's own files: hash flooding is not a concern, speed is.

use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The hasher.
#[derive(Clone, Copy, Default)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The same little-endian word as zero-padding the rest to 8
            // bytes, read in fixed-size pieces: a copy of a variable length
            // is a call to `memcpy`, most of the cost of a short key.
            let (mut word, mut at) = (0u64, 0);
            if rest.len() >= 4 {
                let mut w = [0u8; 4];
                w.copy_from_slice(&rest[..4]);
                word = u64::from(u32::from_le_bytes(w));
                at = 4;
            }
            if rest.len() - at >= 2 {
                let w = [rest[at], rest[at + 1]];
                word |= u64::from(u16::from_le_bytes(w)) << (8 * at);
                at += 2;
            }
            if let Some(&b) = rest.get(at) {
                word |= u64::from(b) << (8 * at);
            }
            self.add(word ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    /// The state turned so that its best-mixed bits come low: a multiply
    /// carries every input bit upwards only, so the low bits of the state
    /// depend on the low bits of the last words alone, and the hash table
    /// picks buckets by the low bits. Without the turn, `r00001`..`r09999`
    /// fell into about a thousand buckets of sixteen thousand.
    #[inline]
    fn finish(&self) -> u64 {
        self.hash.rotate_left(26)
    }
}

/// `HashMap<K, V, FxBuild>`.
pub type FxBuild = BuildHasherDefault<FxHasher>;
pub type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuild>;
pub type FxHashSet<K> = std::collections::HashSet<K, FxBuild>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn different_keys_hash_differently() {
        let b = FxBuild::default();
        let h = |s: &str| b.hash_one(s);
        assert_ne!(h("role.a"), h("role.b"));
        assert_ne!(h("abcdefgh1"), h("abcdefgh2"));
        let mut m: FxHashMap<String, u32> = FxHashMap::default();
        m.insert("x".into(), 1);
        assert_eq!(m.get("x"), Some(&1));
    }

    /// The last 1 to 7 bytes of a key hash as the zero-padded word they
    /// make, the formula a stored hash-ordered output would depend on.
    #[test]
    fn remainders_hash_as_zero_padded_words() {
        let bytes = b"abcdefghijklmno\xff\x80";
        for len in 0..=bytes.len() {
            let key = &bytes[..len];
            let mut expected = FxHasher::default();
            let mut chunks = key.chunks_exact(8);
            for c in &mut chunks {
                expected.add(u64::from_le_bytes(c.try_into().unwrap()));
            }
            let rest = chunks.remainder();
            if !rest.is_empty() {
                let mut w = [0u8; 8];
                w[..rest.len()].copy_from_slice(rest);
                expected.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
            }
            let mut got = FxHasher::default();
            got.write(key);
            assert_eq!(got.finish(), expected.finish(), "{len} bytes");
        }
    }

    /// Keys that differ only in their last characters, as generated block
    /// names and `for_each` keys do, spread over a table's buckets (chosen
    /// by the low bits) about as well as random ones would.
    #[test]
    fn similar_keys_spread_over_the_low_bits() {
        use crate::address::Address;
        use crate::Kind;
        let b = FxBuild::default();
        let spread = |hashes: Vec<u64>| {
            let mask = (1u64 << 14) - 1;
            hashes
                .iter()
                .map(|h| h & mask)
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        let blocks = (0..10_000)
            .map(|i| b.hash_one(Address::resource(Kind::Role, format!("r{i:05}"))))
            .collect();
        let keys = (0..10_000)
            .map(|i| {
                let mut a = Address::resource(Kind::Role, "r");
                a.key = Some(format!("{i:05}").into());
                b.hash_one(a)
            })
            .collect();
        // 10,000 random values in 16,384 buckets take about 7,400.
        assert!(spread(blocks) > 6_500);
        assert!(spread(keys) > 6_500);
    }
}
